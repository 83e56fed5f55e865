"""A catalogue manifest: CSV, JSONL or a folder of photos, one row per SKU, every row checked before anything
runs (all problems at once, each with its row number and column; BadInput, exit 2).

Columns: ``sku`` (required, unique, safe as a folder name), ``image`` (relative to the manifest), ``mask``,
``keep``, ``task``, ``prompt``, ``negative_prompt``, ``preset``, ``variants``, ``seed`` and ``request`` (a JSON
object laid over the base request). A folder is a manifest whose rows are its photos: sku = the file's stem,
``<stem>.mask.png`` beside it the mask.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib_garment.errors import BadInput

COLUMNS = (
    "sku", "image", "mask", "keep", "task", "prompt", "negative_prompt", "preset", "variants", "seed", "request",
)  # fmt: skip
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
MASK_SUFFIX = ".mask.png"
MAX_VARIANTS = 64
# A SKU names its output folder: letters, digits and . _ - (no separators, no leading dot, no "..").
_SKU = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class Row:
    """One SKU as the manifest gives it. ``number``: its line (CSV: the header is line 1) or, for a folder, its
    position; ``fields``: the non-empty columns other than sku/image/mask, as written."""

    number: int
    sku: str
    image: Path
    mask: Path | None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"row {self.number} ({self.sku})" if self.sku else f"row {self.number}"


@dataclass(frozen=True)
class Manifest:
    """The rows that could be read, and the problems of those that could not (reported with the rows' own
    problems by :func:`lib_garment.catalogue.jobs.plan_jobs`, so the user sees them all at once)."""

    source: Path
    kind: str  # "csv", "jsonl" or "folder"
    rows: tuple[Row, ...]
    problems: tuple[str, ...] = ()


class ManifestProblems(BadInput):
    """Every problem of a manifest, one per line, in row order."""

    def __init__(self, source: Path, problems: list[str]) -> None:
        problems = sorted(problems, key=_row_number)
        shown = problems[:50]
        more = f"\n  … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        lines = "\n".join(f"  {problem}" for problem in shown)
        super().__init__(f"{source}: {len(problems)} problem(s), nothing was run:\n{lines}{more}")
        self.problems = problems


def read_manifest(path: str | Path) -> Manifest:
    """The manifest's rows with their shape checked (columns, sku, paths); the problems found kept with them."""
    source = Path(path)
    if source.is_dir():
        return _folder(source)
    if not source.is_file():
        raise BadInput(f"{source}: no such manifest file or photo folder")
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise BadInput(f"{source}: a manifest is a .csv or .jsonl file, or a folder of photos")
    problems: list[str] = []
    records = list(_csv(source, problems) if suffix == ".csv" else _jsonl(source, problems))
    rows = [row for row in (_row(number, record, source.parent, problems) for number, record in records) if row]
    _check_unique(rows, problems)
    if not rows and not problems:
        problems.append("no rows: add one line per SKU under the header (sku,image,…)")
    return Manifest(source, suffix[1:], tuple(rows), tuple(problems))


def _row_number(problem: str) -> int:
    found = re.match(r"row (\d+)", problem)
    return int(found.group(1)) if found else 0


def _csv(source: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    text = _text(source)
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        problems.append(f"header: unknown column(s) {', '.join(map(repr, unknown))} (columns: {', '.join(COLUMNS)})")
    if "sku" not in header:
        problems.append("header: the sku column is required")
    for record in reader:
        number = reader.line_num
        if None in record:
            problems.append(f"row {number}: more cells than the header has columns")
            continue
        yield number, {key: value for key, value in record.items() if key in COLUMNS and value not in (None, "")}


def _jsonl(source: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(_text(source).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"row {number}: not valid JSON ({err.msg})")
            continue
        if not isinstance(record, dict):
            problems.append(f"row {number}: must be a JSON object")
            continue
        unknown = [key for key in record if key not in COLUMNS]
        if unknown:
            problems.append(
                f"row {number}: unknown field(s) {', '.join(map(repr, unknown))} (fields: {', '.join(COLUMNS)})"
            )
        yield number, {key: value for key, value in record.items() if key in COLUMNS and value not in (None, "")}


def _text(source: Path) -> str:
    try:
        return source.read_text(encoding="utf-8-sig")  # spreadsheets write a byte-order mark
    except UnicodeDecodeError:
        raise BadInput(f"{source}: not a UTF-8 text file") from None
    except OSError as err:
        raise BadInput(f"{source}: cannot read it ({err.strerror})") from None


def _row(number: int, record: dict[str, Any], base: Path, problems: list[str]) -> Row | None:
    sku = record.get("sku")
    sku = str(sku).strip() if sku is not None else ""
    found = len(problems)
    if not sku:
        problems.append(f"row {number}: sku is empty")
    elif not _SKU.fullmatch(sku) or ".." in sku:
        problems.append(
            f"row {number}: sku {sku!r} cannot name a folder: use letters, digits, '.', '_' and '-' (at most 128, "
            "not starting with '.')"
        )
    where = f"row {number} ({sku})" if sku else f"row {number}"
    image = record.get("image")
    if not isinstance(image, str) or not image.strip():
        problems.append(f"{where}: image is empty (the photo's path, relative to the manifest)")
    mask = record.get("mask")
    if mask is not None and not isinstance(mask, str):
        problems.append(f"{where}: mask must be a path")
    fields = {key: value for key, value in record.items() if key not in ("sku", "image", "mask")}
    if len(problems) > found:
        return None
    return Row(number, sku, base / str(image).strip(), base / mask.strip() if mask else None, fields)


def _check_unique(rows: list[Row], problems: list[str]) -> None:
    # Case-insensitive: two SKUs differing only in case would share a folder on Windows and macOS.
    first: dict[str, Row] = {}
    for row in rows:
        seen = first.setdefault(row.sku.lower(), row)
        if seen is not row:
            problems.append(f"{row.where}: duplicate sku (first on row {seen.number})")


def _folder(source: Path) -> Manifest:
    photos = sorted(
        path
        for path in source.iterdir()
        if path.is_file()
        and path.suffix.lower() in PHOTO_SUFFIXES
        and not path.name.lower().endswith(MASK_SUFFIX)
        and not path.name.startswith(".")
    )
    problems: list[str] = []
    rows = []
    for number, photo in enumerate(photos, start=1):
        mask = photo.with_name(photo.stem + MASK_SUFFIX)
        sku = photo.stem
        if not _SKU.fullmatch(sku) or ".." in sku:
            problems.append(f"{photo.name}: the file name {sku!r} cannot name an output folder (rename the photo)")
            continue
        rows.append(Row(number, sku, photo, mask if mask.is_file() else None))
    _check_unique(rows, problems)
    if not rows and not problems:
        problems.append(f"no photos ({', '.join(PHOTO_SUFFIXES)}) in the folder")
    return Manifest(source, "folder", tuple(rows), tuple(problems))
