"""The request's ``restore`` options (:class:`lib_garment.request.RestoreOptions`) as the engine's settings.

One mapping for every host: the WebUI's nested pass, the CLI's client mode and anything else that restores
from a request. :func:`check_options` refuses bad options (BadInput naming the field) before any model runs;
:func:`detector_plan` says which detector serves which kind; :func:`describe_result` is the one-line summary
recorded in the infotext ("2 faces, 1 hand restored").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.restore.crop import CropParams
from lib_garment.restore.detect import FilterParams, Kind
from lib_garment.restore.pipeline import RestoreResult, RestoreSettings

# Short names users type, and the engine's names for them.
DETECTOR_ALIASES = {
    "haar": "haar_face",
    "opencv": "haar_face",
    "mediapipe": "mediapipe_face_short",
    "mediapipe_face": "mediapipe_face_short",
    "mediapipe_hand": "mediapipe_hands",
}
FACE_ONLY = ("haar_face", "mediapipe_face_short", "mediapipe_face_full")
HAND_ONLY = ("mediapipe_hands",)
# The request's sort names (ADetailer's, written as identifiers) and the engine's.
SORT_ORDERS = {"none": "none", "left_to_right": "left-right", "center_out": "center-out", "area": "area"}


def detector_name(name: str, field: str = "detector") -> str:
    """The engine's name for a detector a user named (aliases, ADetailer's ``.pt`` names); BadInput when it is
    neither a known name nor something that looks like a file path."""
    from lib_garment.restore.detectors.choose import DETECTOR_NAMES

    if not isinstance(name, str) or not name.strip():
        raise BadInput(f"restore {field} must name a detector, got {name!r}")
    text = name.strip()
    lowered = text.lower()
    if lowered in DETECTOR_ALIASES:
        return DETECTOR_ALIASES[lowered]
    if lowered.removesuffix(".pt") in DETECTOR_NAMES:
        return lowered.removesuffix(".pt")
    if Path(text).suffix or "/" in text or "\\" in text:
        if not Path(text).expanduser().is_file():
            raise BadInput(f"restore {field}: no such detector file {text}")
        return text  # a file: verified when the detector is made
    names = ", ".join((*DETECTOR_NAMES, *DETECTOR_ALIASES))
    raise BadInput(f"restore {field}: unknown detector {text!r}; use one of {names}, or the path of a .pt file")


@dataclass(frozen=True)
class DetectorChoice:
    """One detector to make: its engine name, the kind it is asked for (None: both) and the option naming it."""

    name: str
    kind: Kind | None
    field: str


def detector_plan(options: Any) -> tuple[DetectorChoice, ...]:
    """The detectors the options ask for: one per switched-on kind, one shared when both kinds name the same."""
    wanted: list[DetectorChoice] = []
    if getattr(options, "faces", True):
        name = detector_name(options.face_detector, "face_detector")
        if name in HAND_ONLY:
            raise BadInput(f"restore face_detector: {name} finds hands only; use face_yolov8n, haar or a face .pt file")
        wanted.append(DetectorChoice(name, "face", "face_detector"))
    if getattr(options, "hands", True):
        name = detector_name(options.hand_detector, "hand_detector")
        if name in FACE_ONLY:
            raise BadInput(f"restore hand_detector: {name} finds faces only; use hand_yolov8n or a hand .pt file")
        if wanted and wanted[0].name == name:
            wanted[0] = DetectorChoice(name, None, "face_detector")
        else:
            wanted.append(DetectorChoice(name, "hand", "hand_detector"))
    return tuple(wanted)


def settings_from_request(options: Any, main_prompt: str = "", main_negative_prompt: str = "") -> RestoreSettings:
    """The engine's settings for the request's restore options and the generation's own prompts."""
    top_k = getattr(options, "top_k", None)
    try:
        return RestoreSettings(
            faces=bool(options.faces),
            hands=bool(options.hands),
            filter=FilterParams(
                confidence=float(options.confidence),
                min_ratio=float(options.min_ratio),
                max_ratio=float(options.max_ratio),
                top_k=int(top_k or 0),  # per kind: FilterParams counts faces and hands apart
                rank_by=getattr(options, "rank_by", "area"),
                sort=SORT_ORDERS[getattr(options, "sort", "none")],
                classes=tuple(getattr(options, "classes", None) or ()),
            ),
            crop=CropParams(size=int(options.crop_size), margin=float(options.padding)),
            matte=options.matte,
            blend=options.blend,
            prompt=options.prompt,
            negative_prompt=options.negative_prompt,
            face_prompt=options.face_prompt,
            face_negative_prompt=options.face_negative_prompt,
            hand_prompt=options.hand_prompt,
            hand_negative_prompt=options.hand_negative_prompt,
            main_prompt=main_prompt or "",
            main_negative_prompt=main_negative_prompt or "",
        )
    except BadInput as err:
        raise BadInput(f"invalid Garment Studio request: restore: {err}") from err


def check_options(options: Any) -> RestoreSettings:
    """Every restore option checked (settings, detector names, the skin model's file where it names a path),
    before any model runs."""
    settings = settings_from_request(options)
    try:
        detector_plan(options)
        if getattr(options, "skin_model", "colour") == "fcn":
            skin_model_file(options.skin_model_path)
    except BadInput as err:
        raise BadInput(f"invalid Garment Studio request: {err}") from err
    return settings


def skin_model_file(path: str | None, models_root: Path | None = None) -> Path:
    """The skin model's file: a path as given, or a bare name in ``models_root/garment_studio/skin``.

    BadInput when a path (anything with a folder or that exists as given) is not a file; ModelUnavailable
    naming the folder when a bare name is not there. Without ``models_root`` a bare name is not looked up."""
    from lib_garment.paths import MODELS_SUBDIR
    from lib_garment.restore.skin_model import SKIN_FAMILY

    text = (path or "").strip()
    if not text:
        raise BadInput("restore skin_model fcn needs skin_model_path (the FCN-ResNet101 state dict)")
    given = Path(text).expanduser()
    if given.is_absolute() or len(given.parts) > 1 or given.exists():
        if not given.is_file():
            raise BadInput(f"restore skin_model_path: no such file {text}")
        return given
    if models_root is None:
        return given  # a bare name: looked up in the models folder when the models are made
    folder = Path(models_root) / MODELS_SUBDIR / SKIN_FAMILY
    if not (folder / given).is_file():
        raise ModelUnavailable(f"restore skin model {text} is not in {folder}: put the state dict there")
    return folder / given


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe_result(result: RestoreResult, extra_notes: Sequence[str] = ()) -> str:
    """One line for the infotext: what was restored, what was skipped and why, and any notes (a fallback, such as
    the classic matte standing in for ViTMatte, is always named)."""
    restored = [r for r in result.records if r.status == "restored"]
    faces = sum(r.detection.kind == "face" for r in restored)
    hands = sum(r.detection.kind == "hand" for r in restored)
    parts = []
    if restored:
        kinds = [_count(n, w) for n, w in ((faces, "face"), (hands, "hand")) if n]
        parts.append(", ".join(kinds) + " restored")
    skipped = [r for r in result.records if r.status == "skipped"]
    if skipped:
        parts.append(_count(len(skipped), "detection") + " skipped (" + "; ".join(r.note for r in skipped) + ")")
    notes = [*result.notes, *(r.note for r in restored), *extra_notes]
    parts.extend(dict.fromkeys(n for n in notes if n))
    return "; ".join(parts) or "nothing to restore"
