"""Hand and face restoration after generation (Kong & Wu 2024 §4.4), around a plug-in regeneration step.

``restore_image(image, detector, regenerate, options)``:

1. **plan** (:func:`plan_restore`): detect (every detector given), choose (:func:`~.detect.filter_detections`),
   and give each chosen detection its 512 x 512 region (:func:`~.crop.crop_region`) and its prompts
   (:mod:`.prompts`);
2. **execute** (:func:`execute_plan`), one detection after the other, each working on the image as the
   previous ones left it (as ADetailer chains its passes):
   crop → skin mask and matte inside the detection box (:mod:`.skin`) → ``regenerate(crop, matte, detection,
   index)`` → the new crop brought back onto the image's pixels → Poisson-blended through the matte
   (:mod:`.blend`), the matte confined to the detection box, the ``keep`` pixels (α = 1 of the task's garment
   matte) untouched → seam metric. The ``keep`` pixels are taken out of the matte **before** the pass: a
   detection the garment covers entirely is skipped with a note and costs no generation.

``regenerate`` is where the host's WebUI img2img pass goes; it gets the (512, 512, 3) uint8 crop, the
(512, 512) float32 matte (the region to regenerate, soft at its edge), the :class:`~.detect.PartDetection` (image
pixels) and the detection's index in the plan (``plan.items[index]`` has its prompts and region), and returns
the regenerated crop of the same shape, or None to leave this detection as it is.

Everything the caller gives is checked before any model runs; bad options raise BadInput naming the field.
Pixels outside every detection's matte are the input's, bit for bit; an image where nothing is found (or
nothing is kept) comes back unchanged with a note saying so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, Literal

import numpy as np

from lib_garment.arrays import check_alpha, check_rgb
from lib_garment.errors import BadInput, GarmentError
from lib_garment.restore.blend import BLEND_MODES, BlendMode, poisson_blend, seam_metric
from lib_garment.restore.boxes import box_mask
from lib_garment.restore.crop import DEFAULT_CROP, CropParams, CropRegion, crop_region
from lib_garment.restore.detect import (
    DEFAULT_FILTER,
    FilterParams,
    Kind,
    PartDetection,
    PartDetector,
    detect_all,
    filter_detections,
)
from lib_garment.restore.prompts import kind_prompt
from lib_garment.restore.skin import (
    DEFAULT_SKIN,
    SKIN_MATTE_METHODS,
    SkinMatteMethod,
    SkinModel,
    SkinParams,
    skin_mask,
    skin_matte,
)
from lib_garment.segment.pipeline import MatteModel

Regenerate = Callable[[np.ndarray, np.ndarray, PartDetection, int], "np.ndarray | None"]
Status = Literal["restored", "skipped"]
NOTHING_DETECTED = "nothing detected: image passed through untouched"


def _check_count(name: str, value: object, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadInput(f"restore {name} must be a whole number >= 1, got {value!r}")


@dataclass(frozen=True)
class RestoreSettings:
    """How restoration runs.

    ``faces``/``hands``: which kinds are restored. ``filter``: which detections (:class:`~.detect.FilterParams`).
    ``crop``: the regions (:class:`~.crop.CropParams`). ``skin``: the skin rules (:class:`~.skin.SkinParams`).
    ``matte``: ``model`` (the matting model given to :func:`restore_image`, ViTMatte), ``classic`` or ``none``.
    ``trimap_radius``: the matte's unknown band in crop pixels (None: 1 % of the crop). ``blend``: ``normal``
    or ``mixed`` Poisson, or ``alpha`` paste. Prompts: ``face_prompt``/``hand_prompt`` (and negatives) per kind,
    ``prompt``/``negative_prompt`` shared, ``main_prompt``/``main_negative_prompt`` the generation's own (see
    :mod:`.prompts`). ``min_skin_pixels``: a matte covering fewer crop pixels is skipped. ``measure_seam``:
    compute the seam metric of each blend.
    """

    faces: bool = True
    hands: bool = True
    filter: FilterParams = DEFAULT_FILTER
    crop: CropParams = DEFAULT_CROP
    skin: SkinParams = DEFAULT_SKIN
    matte: SkinMatteMethod = "classic"
    trimap_radius: int | None = None
    blend: BlendMode = "normal"
    prompt: str = ""
    negative_prompt: str = ""
    face_prompt: str = ""
    face_negative_prompt: str = ""
    hand_prompt: str = ""
    hand_negative_prompt: str = ""
    main_prompt: str = ""
    main_negative_prompt: str = ""
    min_skin_pixels: int = 16
    measure_seam: bool = True

    def __post_init__(self) -> None:
        for name in ("faces", "hands", "measure_seam"):
            if not isinstance(getattr(self, name), bool):
                raise BadInput(f"restore {name} must be true or false, got {getattr(self, name)!r}")
        if not (self.faces or self.hands):
            raise BadInput("restore needs faces or hands (or both) switched on")
        for name, kind in (("filter", FilterParams), ("crop", CropParams), ("skin", SkinParams)):
            if not isinstance(getattr(self, name), kind):
                raise BadInput(f"restore {name} must be {kind.__name__}, got {type(getattr(self, name)).__name__}")
        if not self.kinds:
            raise BadInput(f"the filter keeps only {list(self.filter.kinds)}, which are switched off")
        if self.matte not in SKIN_MATTE_METHODS:
            raise BadInput(f"restore matte must be one of {', '.join(SKIN_MATTE_METHODS)}, got {self.matte!r}")
        if self.blend not in BLEND_MODES:
            raise BadInput(f"restore blend must be one of {', '.join(BLEND_MODES)}, got {self.blend!r}")
        _check_count("trimap_radius", self.trimap_radius, allow_none=True)
        _check_count("min_skin_pixels", self.min_skin_pixels)
        for item in fields(self):
            if item.name.endswith("prompt"):
                value = getattr(self, item.name)
                if not isinstance(value, str):
                    raise BadInput(f"restore {item.name} must be text, got {type(value).__name__}")

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The kinds restored: switched on and kept by the filter."""
        on = {"face": self.faces, "hand": self.hands}
        return tuple(k for k in self.filter.kinds if on[k])


DEFAULT_SETTINGS = RestoreSettings()


def settings_from_dict(data: Mapping[str, Any]) -> RestoreSettings:
    """Settings from plain data (JSON, a UI's state): nested dicts for ``filter``, ``crop`` and ``skin``,
    lists for tuples; an unknown or mistyped field is BadInput naming it."""
    if isinstance(data, RestoreSettings):
        return data
    if not isinstance(data, Mapping):
        raise BadInput(f"restore settings must be an object, got {type(data).__name__}")
    return _build(RestoreSettings, data, "restore")


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise BadInput(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; known: {', '.join(known)}")
    values: dict[str, Any] = {}
    for name, given in data.items():
        default = known[name].default
        nested = default if default is not MISSING and is_dataclass(default) else None
        if nested is not None and isinstance(given, Mapping):
            values[name] = _build(type(nested), given, f"{where}.{name}")
        elif isinstance(given, list):
            values[name] = tuple(tuple(v) if isinstance(v, list) else v for v in given)
        else:
            values[name] = given
    try:
        return cls(**values)
    except BadInput as err:
        raise BadInput(f"{where}: {err}") from err
    except (TypeError, ValueError) as err:
        raise BadInput(f"{where}: {err}") from err


def settings_from_options(
    options: Any, main_prompt: str = "", main_negative_prompt: str = "", **overrides: Any
) -> RestoreSettings:
    """Settings from the request's ``restore`` options (``faces``, ``hands``, ``prompt``, ``negative_prompt``)
    and the generation's prompts; ``overrides`` set any other field."""
    values: dict[str, Any] = {
        name: getattr(options, name)
        for name in ("faces", "hands", "prompt", "negative_prompt")
        if hasattr(options, name)
    }
    values.update(main_prompt=main_prompt, main_negative_prompt=main_negative_prompt, **overrides)
    return settings_from_dict(values)


# -- plan -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PlannedDetection:
    """One detection to restore: its place in the plan (``index``) and among its kind (``kind_index``), the
    region regenerated, and its prompts (``prompt`` None: ``[SKIP]``)."""

    index: int
    kind_index: int
    detection: PartDetection
    region: CropRegion
    prompt: str | None
    negative_prompt: str


@dataclass(frozen=True, eq=False)
class RestorePlan:
    """What restoration will do to an image of ``image_shape``: ``items`` in order; ``found``: detections
    before the filters; ``seconds``: detection time; ``notes``."""

    image_shape: tuple[int, int]
    items: tuple[PlannedDetection, ...]
    found: int
    seconds: float = 0.0
    notes: tuple[str, ...] = ()


def _as_settings(options: RestoreSettings | Mapping[str, Any] | None) -> RestoreSettings:
    if options is None:
        return DEFAULT_SETTINGS
    return settings_from_dict(options)


def _check_detectors(detector: PartDetector | Sequence[PartDetector]) -> tuple[PartDetector, ...]:
    detectors = (detector,) if callable(detector) else tuple(detector) if isinstance(detector, Sequence) else ()
    if not detectors or not all(callable(d) for d in detectors):
        raise BadInput(f"restore needs a detector (or a list of them), got {type(detector).__name__}")
    return detectors


def plan_detections(
    detections: Sequence[PartDetection], image_shape: tuple[int, int], settings: RestoreSettings = DEFAULT_SETTINGS
) -> RestorePlan:
    """The plan for detections already found (pure: no model runs)."""
    shape = (int(image_shape[0]), int(image_shape[1]))
    params = settings.filter
    chosen = filter_detections(detections, shape, FilterParams(**{**_fields(params), "kinds": settings.kinds}))
    per_kind: dict[str, int] = {}
    items = []
    for index, detection in enumerate(chosen):
        kind_index = per_kind.get(detection.kind, 0)
        per_kind[detection.kind] = kind_index + 1
        kind_text = settings.face_prompt if detection.kind == "face" else settings.hand_prompt
        kind_negative = settings.face_negative_prompt if detection.kind == "face" else settings.hand_negative_prompt
        prompt = kind_prompt(kind_text, settings.prompt, settings.main_prompt, kind_index, index)
        negative = kind_prompt(
            kind_negative, settings.negative_prompt, settings.main_negative_prompt, kind_index, index
        )
        region = crop_region(detection.box, shape, settings.crop)
        items.append(
            PlannedDetection(
                index,
                kind_index,
                detection,
                region,
                prompt,
                settings.main_negative_prompt if negative is None else negative,
            )
        )
    notes: tuple[str, ...] = ()
    if not detections:
        notes = (NOTHING_DETECTED,)
    elif not items:
        notes = (f"{len(detections)} detection(s), none kept by the filters: image passed through untouched",)
    return RestorePlan(shape, tuple(items), len(detections), 0.0, notes)


def _fields(params: Any) -> dict[str, Any]:
    return {f.name: getattr(params, f.name) for f in fields(params)}


def plan_restore(
    image: np.ndarray,
    detector: PartDetector | Sequence[PartDetector],
    options: RestoreSettings | Mapping[str, Any] | None = None,
) -> RestorePlan:
    """Detect, choose, and plan regions and prompts (the options are checked before any detector runs)."""
    settings = _as_settings(options)
    image = check_rgb(image)
    detectors = _check_detectors(detector)
    start = time.perf_counter()
    found = detect_all(image, detectors)
    seconds = time.perf_counter() - start
    plan = plan_detections(found, image.shape[:2], settings)
    return RestorePlan(plan.image_shape, plan.items, plan.found, seconds, plan.notes)


# -- execute ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DetectionRecord:
    """What happened to one planned detection: ``status``, ``note`` (why skipped, or the matte's note),
    ``skin_pixels`` (crop pixels with matte > 0), ``seam`` (:func:`~.blend.seam_metric` of the blend, None
    when not measured or skipped) and ``timings`` in seconds (crop, skin, regenerate, blend, seam)."""

    index: int
    detection: PartDetection
    region: CropRegion
    prompt: str | None
    negative_prompt: str
    status: Status
    note: str = ""
    skin_pixels: int = 0
    seam: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.detection.box


@dataclass(frozen=True, eq=False)
class RestoreResult:
    """The restored ``image`` ((H, W, 3) uint8), a record per planned detection, notes, and timings in
    seconds (detect, crop, skin, regenerate, blend, seam, total)."""

    image: np.ndarray
    records: tuple[DetectionRecord, ...]
    notes: tuple[str, ...]
    timings: dict[str, float]
    plan: RestorePlan

    @property
    def restored(self) -> int:
        return sum(r.status == "restored" for r in self.records)


def _check_keep(keep_alpha: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    if keep_alpha is None:
        return None
    return check_alpha(keep_alpha, shape, "keep alpha") >= 1.0


def _check_regenerate(regenerate: object) -> None:
    if not callable(regenerate):
        raise BadInput(f"regenerate must be a function (crop, matte, detection, index) -> crop, got {regenerate!r}")


def _regenerated(result: object, size: int, index: int) -> np.ndarray | None:
    if result is None:
        return None
    if not isinstance(result, np.ndarray) or result.shape != (size, size, 3) or result.dtype != np.uint8:
        shape = getattr(result, "shape", type(result).__name__)
        raise GarmentError(f"regenerating detection {index} gave {shape}; expected a ({size}, {size}, 3) uint8 crop")
    return result


def execute_plan(
    image: np.ndarray,
    plan: RestorePlan,
    regenerate: Regenerate,
    options: RestoreSettings | Mapping[str, Any] | None = None,
    keep_alpha: np.ndarray | None = None,
    *,
    skin_model: SkinModel | None = None,
    matte_model: MatteModel | None = None,
) -> RestoreResult:
    """Run a plan on ``image`` (the one it was planned for); see the module docstring."""
    settings = _as_settings(options)
    image = check_rgb(image)
    if not isinstance(plan, RestorePlan):
        raise BadInput(f"plan must be a RestorePlan, got {type(plan).__name__}")
    if tuple(image.shape[:2]) != plan.image_shape:
        planned = f"{plan.image_shape[1]}x{plan.image_shape[0]}"
        raise BadInput(f"the plan is for a {planned} image, got {image.shape[1]}x{image.shape[0]}")
    keep = _check_keep(keep_alpha, image.shape[:2])
    _check_regenerate(regenerate)
    start = time.perf_counter()
    current = image.copy()
    records = []
    for item in plan.items:
        record, current = _restore_one(current, item, regenerate, settings, keep, skin_model, matte_model)
        records.append(record)
    totals = {"detect": plan.seconds}
    for stage in ("crop", "skin", "regenerate", "blend", "seam"):
        totals[stage] = sum(r.timings.get(stage, 0.0) for r in records)
    totals["total"] = plan.seconds + time.perf_counter() - start
    notes = list(plan.notes)
    if plan.items and not any(r.status == "restored" for r in records):
        notes.append("no detection was restored: image passed through untouched")
    return RestoreResult(current, tuple(records), tuple(notes), totals, plan)


def _restore_one(
    image: np.ndarray,
    item: PlannedDetection,
    regenerate: Regenerate,
    settings: RestoreSettings,
    keep: np.ndarray | None,
    skin_model: SkinModel | None,
    matte_model: MatteModel | None,
) -> tuple[DetectionRecord, np.ndarray]:
    timings: dict[str, float] = {}

    def record(status: Status, note: str = "", pixels: int = 0, seam: float | None = None) -> DetectionRecord:
        return DetectionRecord(
            item.index,
            item.detection,
            item.region,
            item.prompt,
            item.negative_prompt,
            status,
            note,
            pixels,
            seam,
            timings,
        )

    if item.prompt is None:
        return record("skipped", "[SKIP] prompt"), image
    region, detection = item.region, item.detection
    clock = time.perf_counter()
    crop = region.extract(image)
    crop_box = region.box_to_crop(detection.box)
    timings["crop"] = time.perf_counter() - clock

    clock = time.perf_counter()
    mask = skin_mask(crop, crop_box, settings.skin, skin_model)
    if detection.mask is not None and detection.mask.shape == image.shape[:2]:
        # A segmentation model's outline narrows the skin down (when they overlap at all).
        narrowed = mask & (region.extract(detection.mask.astype(np.uint8)) > 0)
        mask = narrowed if narrowed.any() else mask
    matte = skin_matte(
        crop, crop_box, mask, method=settings.matte, matte_model=matte_model, trimap_radius=settings.trimap_radius
    )
    alpha_crop, covered = _without_kept(matte.alpha, region, keep)
    pixels = int(np.count_nonzero(alpha_crop))
    timings["skin"] = time.perf_counter() - clock
    if pixels < settings.min_skin_pixels:
        if covered and not matte.empty:
            why = f"the kept garment covers the skin matte ({pixels} px left): no pass"
        else:
            why = matte.note or f"the skin matte covers {pixels} px, fewer than {settings.min_skin_pixels}"
        return record("skipped", why, pixels), image

    clock = time.perf_counter()
    size = region.size
    new_crop = _regenerated(regenerate(crop.copy(), alpha_crop.copy(), detection, item.index), size, item.index)
    timings["regenerate"] = time.perf_counter() - clock
    if new_crop is None:
        return record("skipped", "regenerate returned nothing", pixels), image

    clock = time.perf_counter()
    vx0, vy0, vx1, vy1 = region.valid
    original = image[vy0:vy1, vx0:vx1]
    generated = region.to_image_grid(new_crop)
    alpha = region.image_alpha(alpha_crop)
    x0, y0, x1, y1 = detection.box
    alpha[~box_mask((x0 - vx0, y0 - vy0, x1 - vx0, y1 - vy0), alpha.shape)] = 0.0  # confined to the box
    window_keep = None if keep is None else keep[vy0:vy1, vx0:vx1]
    blended = poisson_blend(original, generated, alpha, settings.blend, window_keep)
    out = image.copy()
    out[vy0:vy1, vx0:vx1] = blended
    timings["blend"] = time.perf_counter() - clock

    seam = None
    if settings.measure_seam:
        clock = time.perf_counter()
        seam = seam_metric(blended, original, generated, alpha)
        timings["seam"] = time.perf_counter() - clock
    return record("restored", matte.note, pixels, seam), out


def _without_kept(alpha: np.ndarray, region: CropRegion, keep: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """The crop's matte less the kept garment (α = 1 pixels of the task's matte), and whether any was removed.

    Done before the pass, so a face or hand the garment hides entirely costs no generation; the blend keeps
    those pixels exact in any case. A crop pixel counts as kept when at least half of it is."""
    if keep is None:
        return alpha, False
    vx0, vy0, vx1, vy1 = region.valid
    if not keep[vy0:vy1, vx0:vx1].any():
        return alpha, False
    kept = region.extract(keep.astype(np.float32)) >= 0.5
    covered = bool(np.any(kept & (alpha > 0)))
    if not covered:
        return alpha, False
    trimmed = alpha.copy()
    trimmed[kept] = 0.0
    return trimmed, True


def restore_image(
    image: np.ndarray,
    detector: PartDetector | Sequence[PartDetector],
    regenerate: Regenerate,
    options: RestoreSettings | Mapping[str, Any] | None = None,
    keep_alpha: np.ndarray | None = None,
    *,
    skin_model: SkinModel | None = None,
    matte_model: MatteModel | None = None,
) -> RestoreResult:
    """Restore the faces and hands of ``image`` ((H, W, 3) uint8 RGB): plan, then execute (module docstring).

    ``keep_alpha``: the task's garment matte ((H, W), float in [0, 1] or uint8): its α = 1 pixels stay exact.
    ``skin_model``: a skin segmentation model (else the colour rules); ``matte_model``: ViTMatte for
    ``matte="model"``. Everything is checked before the detector runs.
    """
    settings = _as_settings(options)
    image = check_rgb(image)
    _check_keep(keep_alpha, image.shape[:2])
    _check_regenerate(regenerate)
    _check_detectors(detector)
    plan = plan_restore(image, detector, settings)
    return execute_plan(image, plan, regenerate, settings, keep_alpha, skin_model=skin_model, matte_model=matte_model)
