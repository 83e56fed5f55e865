"""The tab's "Catalogue" section: a whole manifest of SKUs made in the background, with the tab's own settings as
the base request every row starts from.

Widgets: the manifest (a CSV/JSONL upload, or a path on the server), the photos (a zip, or a folder on the
server), the output folder's name (the run's id: the same name resumes), retry-failed and a failure limit;
Start / Stop / Resume / Refresh; a summary (with the product fidelity measured when the run ended: a loud message
when a result's kept pixels differ from the photo), a table of the jobs (status, sku, variant, file, kept exact,
compliance, error), their thumbnails, and the output folder as a zip. On gradio 4 a timer refreshes the table
while the tab is open.

The handlers hold no pipeline logic: they read the widgets, build the one request the tab already builds
(:mod:`.tab_inputs`) and call the run manager (:mod:`lib_garment.host.passes.catalogue_runs`). They are not
wrapped in the WebUI's queue lock: a run takes it per job itself, so Start returns at once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from PIL import Image

from lib_garment.catalogue.manifest import ManifestProblems
from lib_garment.errors import GarmentError
from lib_garment.evaluate.fidelity import fidelity_alarm, fidelity_line
from lib_garment.host.passes.catalogue_runs import RUNS, CatalogueStart, UnknownRun
from lib_garment.host.ui.tab_handlers import message_html
from lib_garment.host.ui.tab_inputs import TabInputs, build_request

ELEM = "garment_studio_catalogue"
TABLE_HEADERS = ["status", "sku", "variant", "file", "kept exact", "compliance", "error"]
MAX_THUMBNAILS = 120  # the most recent ones: a 500-SKU table stays light to refresh
REFRESH_S = 2.0
# The section's own widgets, in the order the handlers take them (the tab's inputs follow).
CATALOGUE_NAMES = (
    "manifest_file",
    "manifest_path",
    "photos_zip",
    "photos_path",
    "output",
    "retry_failed",
    "max_failures",
)


@dataclass
class CatalogueView:
    """What the section shows: the summary, the table, the thumbnails and the message line."""

    summary: str = ""
    rows: list[list[Any]] = field(default_factory=list)
    thumbnails: list[tuple[Image.Image, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def outputs(self) -> tuple[Any, ...]:
        return (
            self.summary,
            self.rows or [[""] * len(TABLE_HEADERS)],
            self.thumbnails,
            message_html(self.errors, self.notes),
        )


VIEW_OUTPUTS = 4


def _file_path(value: Any) -> str | None:
    """A gr.File's value as a path: gradio 3 hands a temporary file object, gradio 4 its path."""
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
    path = getattr(value, "name", value)
    return str(path) if path else None


def _limit(value: Any) -> int | None:
    """The failure limit: 0 or empty is none."""
    if value in (None, ""):
        return None
    number = float(value)
    if number != int(number) or number < 0:
        raise GarmentError(f"stop after N failures: a whole number of 0 or more, got {value}")
    return int(number) or None


def describe(report: dict[str, Any]) -> CatalogueView:
    """The run's report (:meth:`Catalogues.report`) as the section shows it."""
    view = CatalogueView()
    counts = report["counts"]
    line = (
        f"**{report['id']}**: {report['status']} · {counts['done']} done, {counts['failed']} failed, "
        f"{counts['pending'] + counts['running']} to do of {report['total']} · `{report['folder']}`"
    )
    if report.get("stopped"):
        line += f"\n\nstopped: {report['stopped']}"
    if report.get("error"):
        view.errors.append(report["error"])
    view.notes = list(report.get("notes") or [])
    fidelity = report.get("fidelity")
    if fidelity is not None and "error" in fidelity:  # a note, escaped: a path's underscores are not Markdown
        view.notes.append(fidelity_line(fidelity))
    elif fidelity is not None:
        going = report["status"] in ("running", "stopping")
        line += f"\n\n{fidelity_line(fidelity)}" + (" (measured when the previous run ended)" if going else "")
        if alarm := fidelity_alarm(fidelity):
            view.errors.append(alarm)
    elif counts["done"] and report["status"] in ("finished", "stopped"):
        # A folder finished before runs measured themselves: a run with nothing left to make costs no generation.
        view.notes.append(
            "product fidelity not measured yet for this folder: Start it again with the same manifest and output "
            "name (done jobs are not made again) and it is measured when that run ends"
        )
    view.summary = line
    folder = report["folder"]
    for job in report["jobs"]:
        exact = "" if job["kept_exact"] is None else ("yes" if job["kept_exact"] else "NO")
        compliance = job["compliance"] or ""
        if job["failing_rules"]:
            compliance += f" ({', '.join(job['failing_rules'])})"
        view.rows.append(
            [
                job["status"],
                job["sku"],
                job["variant"],
                job["files"].get("result", ""),
                exact,
                compliance,
                job["error"] or "",
            ]
        )
    shown = [job for job in report["jobs"] if "thumbnail" in job["files"]][-MAX_THUMBNAILS:]
    for job in shown:
        picture = _thumbnail(f"{folder}/{job['files']['thumbnail']}")
        if picture is not None:
            view.thumbnails.append((picture, f"{job['sku']} #{job['variant']}"))
    return view


def _thumbnail(path: str) -> Image.Image | None:
    try:
        with Image.open(path) as picture:
            return picture.convert("RGB")
    except OSError:  # a thumbnail being replaced by a resumed run: the next refresh shows it
        return None


def _failed(err: Exception) -> CatalogueView:
    if isinstance(err, ManifestProblems):  # every problem on its own line
        return CatalogueView(errors=[str(err).splitlines()[0], *err.problems])
    return CatalogueView(errors=[str(err)])


def _start_from(start: CatalogueStart, upload: Any = None) -> CatalogueView:
    run = RUNS.start(start, upload=upload)
    view = describe(RUNS.report(run.id))
    view.notes.insert(0, f"started: {run.jobs} job(s); the table refreshes while it runs")
    return view


def run_start(named: dict[str, Any], tab: TabInputs) -> CatalogueView:
    """Start (or resume: the same output name) a run: ``named`` the section's widgets by name, ``tab`` the tab's."""
    try:
        request = build_request(tab)
        manifest, upload = RUNS.sources(
            manifest_file=_file_path(named.get("manifest_file")),
            manifest_path=str(named.get("manifest_path") or ""),
            zip_file=_file_path(named.get("photos_zip")),
            photo_path=str(named.get("photos_path") or ""),
        )
        start = CatalogueStart(
            manifest,
            str(named.get("output") or "").strip(),
            json.loads(request.json()),  # the tab's request as JSON: what each row is laid over
            bool(named.get("retry_failed")),
            _limit(named.get("max_failures")),
        )
        return _start_from(start, upload)
    except GarmentError as err:
        return _failed(err)


def start_clicked(*values: Any) -> tuple[Any, ...]:
    named = dict(zip(CATALOGUE_NAMES, values[: len(CATALOGUE_NAMES)], strict=True))
    return run_start(named, TabInputs.from_values(values[len(CATALOGUE_NAMES) :])).outputs()


def resume_clicked(*values: Any) -> tuple[Any, ...]:
    """Start the shown run again as it was started (in this session); else as the widgets say now."""
    output = str(values[CATALOGUE_NAMES.index("output")] or "").strip()
    before = RUNS.last_start(output)
    if before is None:
        return start_clicked(*values)
    try:
        return _start_from(before).outputs()
    except GarmentError as err:
        return _failed(err).outputs()


def refresh_clicked(output: str) -> tuple[Any, ...]:
    name = str(output or "").strip()
    if not name:
        return CatalogueView().outputs()
    try:
        return describe(RUNS.report(name)).outputs()
    except UnknownRun:
        return CatalogueView().outputs()  # nothing started under that name yet: nothing to say
    except GarmentError as err:
        return _failed(err).outputs()


def tick(output: str) -> tuple[Any, ...]:
    """The timer's refresh: only while the run goes on (and a little after, for its last state), so an idle tab
    sends nothing."""
    run = RUNS.run(str(output or "").strip())
    if run is None or (not run.alive and run.finished is not None and time.time() - run.finished > 3 * REFRESH_S):
        return tuple(gr.update() for _ in range(VIEW_OUTPUTS))
    return refresh_clicked(output)


def stop_clicked(output: str) -> tuple[Any, ...]:
    try:
        view = describe(RUNS.stop(str(output or "").strip()))
    except GarmentError as err:
        return _failed(err).outputs()
    view.notes.insert(0, "stopping after the running job: Resume (or Start with this name) goes on later")
    return view.outputs()


def zip_clicked(output: str) -> tuple[Any, ...]:
    """The output folder as a zip to download, and the message line."""
    try:
        return str(RUNS.zip_output(str(output or "").strip())), message_html()
    except GarmentError as err:
        return None, message_html([str(err)])


def build_catalogue(tab_inputs: list[Any], gradio_major: int) -> dict[str, Any]:
    """The section (call inside the tab's Blocks); ``tab_inputs``: the tab's own inputs, the base request."""
    w: dict[str, Any] = {}
    with gr.Accordion("Catalogue: a manifest of SKUs, made in the background", open=False, elem_id=ELEM):
        gr.Markdown(
            "Every row of the manifest starts from the settings above (task, Keep, prompts, units, preset…); "
            "server paths are relative to the catalogue folder of Settings → Garment Studio, and must stay in it."
        )
        with gr.Row():
            w["manifest_file"] = gr.File(
                label="Manifest (.csv or .jsonl)", file_types=[".csv", ".jsonl"], elem_id=f"{ELEM}_manifest_file"
            )
            w["photos_zip"] = gr.File(label="Photos (a .zip)", file_types=[".zip"], elem_id=f"{ELEM}_photos_zip")
        with gr.Row():
            w["manifest_path"] = gr.Textbox(
                label="…or a manifest on the server", placeholder="shoot/catalogue.csv", elem_id=f"{ELEM}_manifest_path"
            )
            w["photos_path"] = gr.Textbox(
                label="…or a folder of photos on the server", placeholder="shoot", elem_id=f"{ELEM}_photos_path"
            )
        with gr.Row():
            w["output"] = gr.Textbox(
                label="Output folder (its name; the same name resumes)", value="catalogue", elem_id=f"{ELEM}_output"
            )
            w["retry_failed"] = gr.Checkbox(False, label="Only the jobs that failed", elem_id=f"{ELEM}_retry_failed")
            w["max_failures"] = gr.Number(
                value=0, precision=0, label="Stop after N failures (0: never)", elem_id=f"{ELEM}_max_failures"
            )
        with gr.Row():
            w["start"] = gr.Button("Start", variant="primary", elem_id=f"{ELEM}_start")
            w["stop"] = gr.Button("Stop", elem_id=f"{ELEM}_stop")
            w["resume"] = gr.Button("Resume", elem_id=f"{ELEM}_resume")
            w["refresh"] = gr.Button("Refresh", elem_id=f"{ELEM}_refresh")
            w["zip"] = gr.Button("Zip the output folder", elem_id=f"{ELEM}_zip")
        w["message"] = gr.HTML("", elem_id=f"{ELEM}_message")
        w["summary"] = gr.Markdown("", elem_id=f"{ELEM}_summary")
        w["table"] = gr.Dataframe(headers=TABLE_HEADERS, interactive=False, wrap=True, elem_id=f"{ELEM}_table")
        gallery: dict[str, Any] = {"columns": 6, "object_fit": "contain", "preview": False}
        if gradio_major >= 4:
            gallery.update(interactive=False)
        w["thumbnails"] = gr.Gallery(label="Results", elem_id=f"{ELEM}_thumbnails", **gallery)
        w["download"] = gr.File(label="Download", interactive=False, elem_id=f"{ELEM}_download")
    view = [w["summary"], w["table"], w["thumbnails"], w["message"]]
    own = [w[name] for name in CATALOGUE_NAMES]
    w["start"].click(fn=start_clicked, inputs=[*own, *tab_inputs], outputs=view)
    w["resume"].click(fn=resume_clicked, inputs=[*own, *tab_inputs], outputs=view)
    w["stop"].click(fn=stop_clicked, inputs=[w["output"]], outputs=view)
    w["refresh"].click(fn=refresh_clicked, inputs=[w["output"]], outputs=view)
    w["zip"].click(fn=zip_clicked, inputs=[w["output"]], outputs=[w["download"], w["message"]])
    timer = getattr(gr, "Timer", None)  # gradio >= 4.40 (Forge); on gradio 3 the Refresh button
    if timer is not None:
        w["timer"] = timer(REFRESH_S)
        w["timer"].tick(fn=tick, inputs=[w["output"]], outputs=view, show_progress="hidden")
    return w
