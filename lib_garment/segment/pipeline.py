"""The segmentation steps chained around plug-in models: detect → select → SAM → unite → clean → trimap → matte.

Models plug in through the three protocols below; each sees the photo at a bounded working size
(:data:`~lib_garment.segment.geometry.MODEL_MAX_SIDE`), the matte only the trimap's unknown band's box plus
context, scaled to :data:`~lib_garment.segment.geometry.MATTE_MAX_SIDE` and cut into overlapping tiles
(:mod:`~lib_garment.segment.matte_tiles`); each answers in its image's coordinates; everything they return
is mapped back to the original photo with :class:`~lib_garment.segment.geometry.Resize`. Box selection, the
mask union, clean-up (in original pixels), the trimap and the final alpha are decided here, at the original
resolution.

:func:`check_segment_inputs` refuses bad input (BadInput) and missing models (ModelUnavailable) before any
model runs; :func:`segment` calls it first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from lib_garment.arrays import check_image
from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.imageio import DEFAULT_LIMITS, ImageLimits, check_array_size
from lib_garment.segment.boxes import PhraseDetection, SelectParams, select_boxes
from lib_garment.segment.cleanup import DEFAULT_MIN_AREA, remove_small_components, union_masks
from lib_garment.segment.coarse import coarse_mask_from_array
from lib_garment.segment.geometry import MATTE_MAX_SIDE, MODEL_MAX_SIDE, fit_within
from lib_garment.segment.matte import Matte, MatteMethod, classic_alpha, finish_alpha, mask_alpha, tiled_alpha
from lib_garment.segment.matte_tiles import MATTE_OVERLAP, MATTE_TILE, Window, band_window, context_margin
from lib_garment.segment.overlay import overlay_image
from lib_garment.segment.phrases import parse_phrases
from lib_garment.segment.trimap import FOREGROUND, UNKNOWN, make_trimap, trimap_radius, trimap_to_size

if TYPE_CHECKING:
    from lib_garment.request import SegmentOptions


class PhraseDetector(Protocol):
    """A text-prompted box detector (GroundingDINO). ``name`` identifies it in provenance.

    Called with the (h, w, 3) uint8 RGB working image, the normalised phrases, and the thresholds; returns
    detections in continuous pixel coordinates of that image, each ``phrase`` one of ``phrases``
    (:func:`lib_garment.segment.phrases.assign_phrase` maps decoded labels). Filtering by the thresholds is
    the detector's job (and is re-applied here, strictly greater, which changes nothing when it did).
    """

    name: str

    def __call__(
        self, image: np.ndarray, phrases: tuple[str, ...], box_threshold: float, text_threshold: float
    ) -> Iterable[PhraseDetection]: ...


class BoxSegmenter(Protocol):
    """A box-prompted segmenter (SAM). Called with the working image and an (N, 4) float64 array of boxes
    (x0, y0, x1, y1, that image's continuous coordinates); returns N masks of the working image's size as
    (N, h, w) or (N, 1, h, w), bool (or 0/1 integers, or probabilities)."""

    name: str

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray: ...


class MatteModel(Protocol):
    """An alpha matting model (ViTMatte). Called with one tile of the working crop around the unknown band and
    its trimap (uint8 {0, 128, 255}, the same size); returns the (h, w) alpha as floats in [0, 1] (or uint8
    0..255). Tiles are blended and the alpha is finished here (see :mod:`lib_garment.segment.matte_tiles`)."""

    name: str

    def __call__(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class SegmentSettings:
    """The rules' parameters (see :func:`settings_from_options` for the request's fields)."""

    phrases: tuple[str, ...] = ()
    select: SelectParams = field(default_factory=SelectParams)
    box_threshold: float = 0.35
    text_threshold: float = 0.25
    min_area: int = DEFAULT_MIN_AREA
    trimap_radius: int | None = None  # k in original pixels; None: 1 % of the short side
    trimap_smooth: int | None = None  # low-pass radius; None: k // 2
    matte: MatteMethod = "vitmatte"
    fallback_to_classic: bool = True  # matte "vitmatte" without a model: classic (and say so) or refuse
    model_max_side: int = MODEL_MAX_SIDE
    matte_max_side: int = MATTE_MAX_SIDE  # the band's crop (plus context) is scaled to fit this
    matte_tile: int | None = MATTE_TILE  # the matting model's tiles in working px (None: the crop in one call)
    matte_overlap: int = MATTE_OVERLAP
    matte_crop: bool = True  # False: the whole photo, not the band's box (a reference for comparisons)


def settings_from_options(options: SegmentOptions) -> SegmentSettings:
    """The request's ``segment`` options as settings (phrases parsed, thresholds also applied in selection)."""
    return SegmentSettings(
        phrases=parse_phrases(options.phrases),
        select=SelectParams(
            mode=options.select,
            top_k=options.top_k,
            box_threshold=options.box_threshold,
            text_threshold=options.text_threshold,
        ),
        box_threshold=options.box_threshold,
        text_threshold=options.text_threshold,
        min_area=options.min_area,
        trimap_radius=options.trimap_size,
        matte=options.matte,
    )


@dataclass(frozen=True, eq=False)
class Segmentation:
    """What segmentation made, all at the original photo's size.

    ``mask``: the clean mask, uint8 0/255. ``trimap``: uint8 {0, 128, 255}. ``matte``: the alpha and its
    method. ``source``: "text" (detected), "mask" (a coarse mask given) or "none" (nothing kept:
    :func:`nothing_kept`). ``detections``: everything the
    detector reported, in original coordinates; ``selected``: the chosen boxes per phrase.
    """

    mask: np.ndarray
    trimap: np.ndarray
    matte: Matte
    source: Literal["text", "mask", "none"]
    trimap_radius: int
    phrases: tuple[str, ...] = ()
    detections: tuple[PhraseDetection, ...] = ()
    selected: dict[str, tuple[PhraseDetection, ...]] = field(default_factory=dict)

    @property
    def alpha(self) -> np.ndarray:
        return self.matte.alpha

    @property
    def missing(self) -> tuple[str, ...]:
        """Phrases for which no box was chosen (none when the segmentation started from a mask)."""
        if self.source != "text":
            return ()
        return tuple(phrase for phrase in self.phrases if not self.selected.get(phrase))

    def chosen(self) -> list[PhraseDetection]:
        return [d for group in self.selected.values() for d in group]

    def overlay(self, image: np.ndarray) -> np.ndarray:
        """The preview for overlay.png: alpha tinted over ``image``, the chosen boxes labelled."""
        return overlay_image(image, self.alpha, self.chosen(), self.phrases)

    def to_json(self) -> dict[str, object]:
        """What was decided, for the parameters saved next to the outputs."""
        return {
            "source": self.source,
            "phrases": list(self.phrases),
            "selected": {phrase: [d.to_json() for d in group] for phrase, group in self.selected.items()},
            "missing": list(self.missing),
            "detections": [d.to_json() for d in self.detections],
            "trimap_radius": self.trimap_radius,
            "matte": self.matte.method,
            "matte_note": self.matte.note,
        }


def nothing_kept(height: int, width: int) -> Segmentation:
    """The segmentation of a request that keeps nothing (``segment.mask_source`` none): empty mask, trimap
    and alpha, so the whole photo is inpainted and the composite puts no photographed pixel back."""
    empty = np.zeros((height, width), np.uint8)
    return Segmentation(empty, empty.copy(), Matte(np.zeros((height, width), np.float32), "none"), "none", 0)


def check_segment_inputs(
    image: np.ndarray,
    settings: SegmentSettings,
    coarse_mask: np.ndarray | None = None,
    detector: PhraseDetector | None = None,
    segmenter: BoxSegmenter | None = None,
    matte_model: MatteModel | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> np.ndarray:
    """Refuse what would fail, before any model runs; returns the image checked (C-contiguous RGB)."""
    image = check_image(image)
    if image.ndim != 3:
        raise BadInput(f"the image must be (H, W, 3) RGB, got shape {image.shape}")
    check_array_size(image, "image", limits)
    if coarse_mask is not None:
        coarse_mask_from_array(coarse_mask, image.shape[:2])
    else:
        if not settings.phrases:
            raise BadInput(
                'segment.phrases: say what to keep, e.g. "white t-shirt" (several: "dress . belt"), or give a mask'
            )
        if detector is None or segmenter is None:
            missing = " and ".join(n for n, m in (("GroundingDINO", detector), ("SAM", segmenter)) if m is None)
            raise ModelUnavailable(f"segmenting by text needs {missing}; or give a mask instead")
    if settings.matte == "vitmatte" and matte_model is None and not settings.fallback_to_classic:
        raise ModelUnavailable("matte 'vitmatte' needs the ViTMatte model; or choose matte 'classic' or 'none'")
    if settings.trimap_radius is not None and settings.trimap_radius < 1:
        raise BadInput(f"segment.trimap_size must be at least 1 px, got {settings.trimap_radius}")
    if settings.min_area < 0:
        raise BadInput(f"segment.min_area must be at least 0, got {settings.min_area}")
    if settings.matte_tile is not None and not 0 <= settings.matte_overlap < settings.matte_tile:
        raise BadInput(f"matte tiles need 0 <= overlap < tile, got {settings.matte_overlap} and {settings.matte_tile}")
    return image


def segment(
    image: np.ndarray,
    settings: SegmentSettings,
    coarse_mask: np.ndarray | None = None,
    detector: PhraseDetector | None = None,
    segmenter: BoxSegmenter | None = None,
    matte_model: MatteModel | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> Segmentation:
    """Segment ``image`` (H, W, 3) uint8 RGB by ``settings.phrases``, or from ``coarse_mask`` (any non-zero
    pixel is foreground, same size), into a clean mask, trimap and alpha at the image's size.

    No box for any phrase gives an empty mask (``missing`` names the phrases); the caller decides whether
    that is an error.
    """
    image = check_segment_inputs(image, settings, coarse_mask, detector, segmenter, matte_model, limits)
    height, width = image.shape[:2]
    detections: tuple[PhraseDetection, ...] = ()
    selected: dict[str, tuple[PhraseDetection, ...]] = {}
    if coarse_mask is not None:
        raw = coarse_mask_from_array(coarse_mask, (height, width))
        source: Literal["text", "mask"] = "mask"
    else:
        assert detector is not None  # checked above
        assert segmenter is not None
        raw, detections, selected = _detect_and_segment(image, settings, detector, segmenter)
        source = "text"

    mask = remove_small_components(raw, settings.min_area)
    k = settings.trimap_radius or trimap_radius(height, width)
    trimap = make_trimap(mask, k, settings.trimap_smooth)
    matte = _matte(image, mask, trimap, k, settings, matte_model)
    return Segmentation(mask, trimap, matte, source, k, settings.phrases, detections, selected)


def _detect_and_segment(
    image: np.ndarray, settings: SegmentSettings, detector: PhraseDetector, segmenter: BoxSegmenter
) -> tuple[np.ndarray, tuple[PhraseDetection, ...], dict[str, tuple[PhraseDetection, ...]]]:
    height, width = image.shape[:2]
    resize = fit_within(width, height, settings.model_max_side)
    working = resize.image_to_working(image)
    found = detector(working, settings.phrases, settings.box_threshold, settings.text_threshold)
    # Back to the photo, cut to its frame (detectors may reach a little past it): areas compare what is seen.
    detections = tuple(
        PhraseDetection(resize.box_to_original(d.box).clipped(width, height), d.score, d.phrase, d.text_score)
        for d in found
    )
    selected = select_boxes(detections, settings.phrases, settings.select)
    chosen = [d for group in selected.values() for d in group]
    if not chosen:
        return np.zeros((height, width), bool), detections, selected
    boxes = np.array([resize.box_to_working(d.box).as_tuple() for d in chosen], dtype=np.float64)
    masks = np.asarray(segmenter(working, boxes))
    work_h, work_w = working.shape[:2]
    if masks.ndim not in (3, 4) or masks.shape[0] != len(chosen) or masks.shape[-2:] != (work_h, work_w):
        raise ValueError(
            f"{segmenter.name} returned masks of shape {masks.shape} for {len(chosen)} boxes "
            f"on a {work_w}x{work_h} image"
        )
    united = union_masks(masks, (work_h, work_w))  # united at the working size, resized once
    return resize.mask_to_original(united), detections, selected


def _matte(
    image: np.ndarray,
    mask: np.ndarray,
    trimap: np.ndarray,
    k: int,
    settings: SegmentSettings,
    model: MatteModel | None,
) -> Matte:
    if settings.matte == "none":
        return Matte(finish_alpha(mask_alpha(mask), trimap), "none")
    method: MatteMethod = settings.matte
    note = ""
    if method == "vitmatte" and model is None:
        method, note = "classic", "ViTMatte is not available: the classic guided-filter matte was used"
    band = trimap == UNKNOWN
    if not band.any():
        return Matte(finish_alpha(mask_alpha(mask), trimap), method, note or "no unknown band: alpha is the trimap")

    # The matte runs on the band's box plus context only (never on the whole photo), scaled to a bounded
    # working size; the crop is a view, the only copies are at the working size. ``matte_crop`` False is the
    # whole photo (the reference the bench and tests compare with).
    height, width = image.shape[:2]
    crop = band_window(band, context_margin(k)) if settings.matte_crop else Window(0, 0, height, width)
    assert crop is not None  # the band is not empty (checked above)
    del band  # a full-size mask: not kept through the model's run
    resize = fit_within(crop.width, crop.height, settings.matte_max_side)
    work_w, work_h = resize.canvas_size
    working_image = resize.image_to_working(image[crop.slices])
    working_trimap = trimap_to_size(trimap[crop.slices], work_w, work_h)
    if method == "vitmatte":
        assert model is not None
        tile, overlap = settings.matte_tile, settings.matte_overlap
        alpha = tiled_alpha(model, working_image, working_trimap, tile, overlap, model.name)
    else:
        working_mask = resize.mask_to_working(mask[crop.slices])
        radius = max(1, int(k * min(resize.scale_x, resize.scale_y) + 0.5))
        alpha = classic_alpha(working_image, working_trimap, working_mask, radius)
    del working_image, working_trimap
    if not resize.is_identity:
        alpha = resize.values_to_original(alpha)  # bilinear; NaN stays NaN for finish_alpha to refuse
    # Outside the crop every pixel is sure (the crop holds the whole band): the trimap's value is the alpha.
    full = (trimap == FOREGROUND).astype(np.float32)
    full[crop.slices] = alpha
    return Matte(finish_alpha(full, trimap), method, note)
