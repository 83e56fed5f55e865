"""What a person reads, rewritten atomically from the database: ``results.csv`` (one row per output),
``<sku>/result.json`` (a SKU's outputs, seeds, checks and reports) and ``index.html`` (the contact sheet: a
thumbnail per output with its kept-pixel check and compliance badge, and the error of each failed job)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from lib_garment import imageio
from lib_garment.catalogue.state import BatchState, JobRecord

RESULT_COLUMNS = (
    "sku", "variant", "status", "file", "kept_exact", "compliance", "failing_rules", "seed", "server", "seconds",
    "error",
)  # fmt: skip


def output(record: JobRecord, kind: str) -> str | None:
    return next((o["file"] for o in record.outputs if o["kind"] == kind), None)


def results_csv(records: Sequence[JobRecord]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for r in records:
        exact = "" if r.kept_exact is None else ("yes" if r.kept_exact else "no")
        seconds = "" if r.seconds is None else f"{r.seconds:.2f}"
        writer.writerow([
            r.sku, r.variant, r.status, output(r, "result") or "", exact, r.compliance or "",
            ";".join(r.failing_rules), "" if r.seed is None else r.seed, r.server or "", seconds, r.error or "",
        ])  # fmt: skip
    return buffer.getvalue()


def sku_report(records: Sequence[JobRecord]) -> dict:
    first = records[0]
    return {
        "sku": first.sku,
        "row": first.row,
        "outputs": [
            {
                "variant": r.variant,
                "status": r.status,
                "files": {o["kind"]: o["file"] for o in r.outputs},
                "sha256": {o["file"]: o["sha256"] for o in r.outputs},
                "seed": r.seed,
                "server": r.server,
                "kept_exact": r.kept_exact,
                "compliance": r.compliance,
                "failing_rules": r.failing_rules,
                "attempts": r.attempts,
                "seconds": r.seconds,
                "error": r.error,
                "error_field": r.error_field,
                **r.report,
            }
            for r in records
        ],
    }


def write_sku_report(state: BatchState, sku: str) -> None:
    records = state.records(sku=sku)
    if records:
        (state.folder / sku).mkdir(exist_ok=True)
        imageio.write_json(state.folder / sku / "result.json", sku_report(records))


def write_reports(state: BatchState, title: str = "") -> list[Path]:
    """results.csv and index.html from the database."""
    records = state.records()
    out = state.folder
    return [
        imageio.write_bytes(out / "results.csv", results_csv(records).encode("utf-8")),
        imageio.write_bytes(out / "index.html", contact_sheet(records, state.counts(), title).encode("utf-8")),
    ]


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;background:#fafafa;color:#222}
h1{font-size:1.3rem} .counts span{margin-right:1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem;font-size:.85rem}
.card img{width:100%;height:200px;object-fit:contain;background:#eee;display:block}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;margin:.2rem .2rem 0 0;color:#fff}
.pass,.exact,.done{background:#2e7d32} .warn{background:#ef6c00} .fail,.changed,.failed{background:#c62828}
.pending,.running{background:#777} .error{color:#c62828;white-space:pre-wrap;word-break:break-word}
"""


def contact_sheet(records: Sequence[JobRecord], counts: dict[str, int], title: str = "") -> str:
    cards = "\n".join(_card(r) for r in records)
    summary = "".join(f"<span>{html.escape(k)}: <b>{v}</b></span>" for k, v in counts.items())
    heading = html.escape(title or "Garment Studio catalogue")
    return (
        f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>{heading}</title>"
        f"<style>{_STYLE}</style></head><body>\n<h1>{heading}</h1>\n<p class=counts>{summary}</p>\n"
        f"<div class=grid>\n{cards}\n</div></body></html>\n"
    )


def _card(r: JobRecord) -> str:
    thumb, result = output(r, "thumbnail"), output(r, "result")
    badges = [f'<span class="badge {r.status}">{r.status}</span>']
    if r.kept_exact is not None:
        kept = "exact" if r.kept_exact else "changed"
        badges.append(f'<span class="badge {kept}" title="kept pixels">kept: {kept}</span>')
    if r.compliance:
        rules = html.escape(", ".join(r.failing_rules), quote=True)
        badges.append(
            f'<span class="badge {html.escape(r.compliance)}" title="{rules}">{html.escape(r.compliance)}</span>'
        )
    image = (
        f'<a href="{quote(result or thumb)}"><img src="{quote(thumb)}" alt="{html.escape(r.sku)} #{r.variant}" '
        "loading=lazy></a>"
        if thumb
        else ""
    )
    error = f"<div class=error>{html.escape(r.error)}</div>" if r.error else ""
    rules = f"<div>failing: {html.escape(', '.join(r.failing_rules))}</div>" if r.failing_rules else ""
    return (
        f'<div class=card data-sku="{html.escape(r.sku, quote=True)}" data-status="{r.status}">{image}'
        f"<div><b>{html.escape(r.sku)}</b> #{r.variant} (row {r.row})</div><div>{''.join(badges)}</div>"
        f"{rules}{error}</div>"
    )
