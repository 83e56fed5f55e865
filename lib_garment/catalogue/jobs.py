"""Rows → jobs: one job per (sku, variant), each with its effective request checked by the one GarmentRequest
and a deterministic id, so a run can be resumed job by job.

The effective request of a row: the base request, then the row's ``request`` object laid over it, then its
columns (keep, mask, task, prompt, negative_prompt, preset, seed). Each variant is one image
(``generation.batch_count`` 1) with its own seed: the row's seed plus the variant's index, or, when no seed is
given, one derived from the photo, the mask and the request, so that a resumed or repeated run makes the same
image. The id hashes the photo's bytes, the mask's bytes and the variant's request: an edited row, photo or base
request gives a new id (and runs again); an unchanged one is skipped once done.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_garment.catalogue.manifest import MAX_VARIANTS, Manifest, ManifestProblems, Row
from lib_garment.errors import BadInput
from lib_garment.models.verify import sha256_file
from lib_garment.request_data import lay_over, set_field

if TYPE_CHECKING:
    from lib_garment.presets.load import PresetSet
    from lib_garment.request import GarmentRequest

ID_VERSION = b"garment-catalogue-job-1"
_COLUMN_FIELDS = {
    "task": "task",
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "preset": "preset",
    "seed": "seed",
}


@dataclass(frozen=True)
class Job:
    """One output to make: ``variant`` counts from 1; ``local``: nothing to generate (a plain background), so
    it runs here without a server; ``photo_sha``/``mask_sha``: the bytes the id was made from."""

    id: str
    sku: str
    variant: int
    row: int
    request: GarmentRequest
    image: Path
    mask: Path | None
    photo_sha: str
    mask_sha: str | None
    local: bool

    @property
    def seed(self) -> int:
        return self.request.seed

    @property
    def label(self) -> str:
        return f"{self.sku} #{self.variant}"


def plan_jobs(
    manifest: Manifest, base: dict[str, Any], *, presets: PresetSet | None = None, models_dir: str | None = None
) -> list[Job]:  # presets: the loaded set, else read from models_dir when a row names a preset
    """Every row's jobs, or ManifestProblems naming every bad row (its number and column): a request the model
    refuses, a missing or undecodable photo, a mask of another size, an unknown preset, nothing to keep."""
    problems: list[str] = list(manifest.problems)
    jobs: list[Job] = []
    loaded: list[PresetSet] = [presets] if presets is not None else []

    def preset_set() -> PresetSet:  # read once, and only when a row asks for marketplace output
        if not loaded:
            from lib_garment.presets.load import load_presets

            loaded.append(load_presets(models_dir))
        return loaded[0]

    checked = _check_files(manifest.rows)
    for row in manifest.rows:
        found = len(problems)
        made = _row_jobs(row, base, problems, preset_set, checked[row.number])
        if len(problems) == found:
            jobs += made
    if problems:
        raise ManifestProblems(manifest.source, problems)
    return jobs


def _row_jobs(
    row: Row, base: dict[str, Any], problems: list[str], presets: Callable[[], PresetSet], files: _RowFiles
) -> list[Job]:
    data = _row_request_data(row, base, problems)
    variants = _variants(row, data, problems)
    request = _validated(row, data, problems)
    if request is None or variants is None:
        return []
    request = _checked_delivery(row, request, problems, presets)
    photo_sha, mask_sha = _file_problems(row, files, problems)
    if row.mask is None and request is not None:
        _check_something_to_keep(row, request, problems)
    if request is None or photo_sha is None or (row.mask is not None and mask_sha is None):
        return []
    return [_job(row, request, variant, photo_sha, mask_sha) for variant in range(1, variants + 1)]


def _row_request_data(row: Row, base: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    data = copy.deepcopy(base)
    extra = row.fields.get("request")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except json.JSONDecodeError as err:
            problems.append(f"{row.where}: request is not valid JSON ({err.msg})")
            extra = None
    if extra is not None and not isinstance(extra, dict):
        problems.append(f"{row.where}: request must be a JSON object (fields of the Garment Studio request)")
        extra = None
    lay_over(data, extra or {})
    for column, path in _COLUMN_FIELDS.items():
        if column in row.fields:
            value = row.fields[column]
            if column == "seed":
                value = _integer(value, row, "seed", problems)
                if value is None:
                    continue
            set_field(data, path, value)
    if row.mask is not None:
        set_field(data, "segment.mask_source", "mask")
    elif "keep" in row.fields:
        set_field(data, "segment.phrases", str(row.fields["keep"]))
        set_field(data, "segment.mask_source", "phrase")
    return data


def _variants(row: Row, data: dict[str, Any], problems: list[str]) -> int | None:
    generation = data.get("generation") if isinstance(data.get("generation"), dict) else {}
    given = row.fields.get("variants")
    if given is None:  # the request's batch count, when it has one, is how many outputs it wants
        count = generation.get("batch_count", 1)
        if not isinstance(count, int) or isinstance(count, bool):
            return 1  # validation names the bad batch_count
    else:
        count = _integer(given, row, "variants", problems)
        if count is None:
            return None
    if not 1 <= count <= MAX_VARIANTS:
        problems.append(f"{row.where}: variants must be 1 to {MAX_VARIANTS}, got {count}")
        return None
    if isinstance(data.get("generation"), dict):
        data["generation"]["batch_count"] = 1
    return count


def _validated(row: Row, data: dict[str, Any], problems: list[str]) -> GarmentRequest | None:
    from lib_garment.pydantic_compat import ValidationError
    from lib_garment.request import GarmentRequest, describe_problems, validation_problems

    columns = {path: column for column, path in _COLUMN_FIELDS.items() if column in row.fields}
    if "keep" in row.fields:
        columns["segment.phrases"] = "keep"

    def where(path: str) -> str:
        column = columns.get(path)
        return f"{row.where}: {column}" if column else f"{row.where}: request.{path}" if path else row.where

    try:
        return GarmentRequest.parse_obj(data)
    except ValidationError as err:
        problems.append(describe_problems(validation_problems(err), where))
        return None


def _checked_delivery(
    row: Row, request: GarmentRequest, problems: list[str], presets: Callable[[], PresetSet]
) -> GarmentRequest | None:
    from lib_garment.presets.deliver import check_delivery

    try:
        check_delivery(request, presets=presets() if request.preset is not None else None)
    except BadInput as err:
        column = "preset" if err.loc[-1:] == ("preset",) and "preset" in row.fields else "request"
        problems.append(f"{row.where}: {column}: {err}")
        return None
    return request


@dataclass(frozen=True)
class _FileCheck:
    sha: str | None = None
    shape: tuple[int, int] | None = None
    error: str | None = None
    empty: bool = False  # a mask with no non-zero pixel


@dataclass(frozen=True)
class _RowFiles:
    photo: _FileCheck
    mask: _FileCheck | None


def _check_files(rows: Sequence[Row]) -> dict[int, _RowFiles]:
    """Every row's photo and mask decoded and hashed, several at once: a catalogue of large photos is checked
    in a fraction of the time (decoding and hashing release the GIL)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    def check(row: Row) -> tuple[int, _RowFiles]:
        return row.number, _RowFiles(_check_photo(row.image), None if row.mask is None else _check_mask(row.mask))

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return dict(pool.map(check, rows))


def _check_photo(path: Path) -> _FileCheck:
    from lib_garment.imageio import open_image

    try:
        with open_image(path, "photo") as picture:
            shape = (picture.height, picture.width)
    except BadInput as err:
        return _FileCheck(error=str(err))
    return _FileCheck(sha256_file(path), shape)


def _check_mask(path: Path) -> _FileCheck:
    from lib_garment.segment.coarse import read_coarse_mask

    try:
        mask = read_coarse_mask(path, None)
    except BadInput as err:
        return _FileCheck(error=str(err))
    return _FileCheck(sha256_file(path), mask.shape, empty=not mask.any())


def _file_problems(row: Row, files: _RowFiles, problems: list[str]) -> tuple[str | None, str | None]:
    """The photo's and mask's hashes, or None where the file is bad (its problem recorded)."""
    photo, mask = files.photo, files.mask
    if photo.error is not None:
        problems.append(f"{row.where}: image: {photo.error}")
    if mask is None or row.mask is None:
        return photo.sha, None
    if mask.error is not None:
        problems.append(f"{row.where}: mask: {mask.error}")
        return photo.sha, None
    if photo.shape is not None and mask.shape != photo.shape:
        problems.append(
            f"{row.where}: mask: {row.mask.name} is {mask.shape[1]}×{mask.shape[0]}, the photo "
            f"{photo.shape[1]}×{photo.shape[0]}: a mask must be the photo's size"
        )
        return photo.sha, None
    if mask.empty:
        problems.append(f"{row.where}: mask: {row.mask.name} keeps nothing (no non-zero pixel)")
        return photo.sha, None
    return photo.sha, mask.sha


def _check_something_to_keep(row: Row, request: GarmentRequest, problems: list[str]) -> None:
    from lib_garment.segment.phrases import parse_phrases

    if request.segment.mask_source == "none":  # nothing is kept on purpose (the ablation's first stage)
        return
    if request.segment.mask_source == "mask":
        problems.append(f"{row.where}: request.segment.mask_source is mask, but the row has no mask column")
    elif not parse_phrases(request.segment.phrases):
        problems.append(
            f'{row.where}: say what to keep: a keep column ("white t-shirt"), a mask, or --keep for every row'
        )


def _job(row: Row, request: GarmentRequest, variant: int, photo_sha: str, mask_sha: str | None) -> Job:
    from lib_garment.presets.deliver import plain_background

    if request.seed == -1:  # a seed of its own, the same at every run of this row
        request = request.copy(update={"seed": derived_seed(photo_sha, mask_sha, request)})
    request = request.copy(update={"seed": (request.seed + variant - 1) % 2**32})
    job_id = job_hash(photo_sha, mask_sha, request, variant)
    return Job(job_id, row.sku, variant, row.number, request, row.image, row.mask, photo_sha, mask_sha,
               plain_background(request))  # fmt: skip


def canonical(request: GarmentRequest) -> bytes:
    return json.dumps(request.dict(), sort_keys=True, separators=(",", ":"), default=str).encode()


def derived_seed(photo_sha: str, mask_sha: str | None, request: GarmentRequest) -> int:
    digest = hashlib.sha256(b"seed\0" + photo_sha.encode() + b"\0" + (mask_sha or "").encode() + canonical(request))
    return int.from_bytes(digest.digest()[:4], "big") % 2**31


def job_hash(photo_sha: str, mask_sha: str | None, request: GarmentRequest, variant: int) -> str:
    digest = hashlib.sha256(ID_VERSION)
    for part in (photo_sha.encode(), (mask_sha or "-").encode(), str(variant).encode(), canonical(request)):
        digest.update(b"\0" + part)
    return digest.hexdigest()[:32]


def _integer(value: Any, row: Row, column: str, problems: list[str]) -> int | None:
    if isinstance(value, bool):
        problems.append(f"{row.where}: {column} must be a whole number, got {value!r}")
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        problems.append(f"{row.where}: {column} must be a whole number, got {value!r}")
        return None


def needs_server(jobs: Sequence[Job]) -> list[Job]:
    """The jobs that generate (need a WebUI)."""
    return [job for job in jobs if not job.local]


def seedless_key(request: GarmentRequest) -> str:
    """A request's identity apart from its seed: the up-front checks (ControlNet, unit models) do not depend on
    the seed, so jobs that differ only there share one."""
    return request.copy(update={"seed": 0}).json()


def distinct_requests(jobs: Sequence[Job]) -> list[GarmentRequest]:
    """One request per :func:`seedless_key`, in the jobs' order: what a run checks before it starts."""
    return list({seedless_key(job.request): job.request for job in jobs}.values())
