"""The one request model every entry point builds: tab, always-on script, REST, batch runner and CLI.

Written against pydantic's v1 API (``lib_garment.pydantic_compat``) so it validates identically on
AUTOMATIC1111 (pydantic 1) and Forge (pydantic 2). Unknown fields are refused, never ignored: a typo in
a REST call must not silently fall back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypedDict, get_args

from lib_garment.errors import BadInput
from lib_garment.pydantic_compat import (
    BaseModel,
    Extra,
    Field,
    ValidationError,
    refuse_coercion,
    root_validator,
    validator,
)

REQUEST_VERSION = 1

Task = Literal["background", "model"]
# Every list of map kinds in the package derives from MapKind or RestoreMapKind. This order is the engine's and
# the command line's (maps are computed, listed and written in it); a tab may lead with other kinds.
MapKind = Literal["canny", "mask_canny", "lines", "pose", "depth", "normal"]
MAP_KINDS: tuple[str, ...] = get_args(MapKind)
ControlMode = Literal["balanced", "prompt", "controlnet"]
InpaintFill = Literal["fill", "original", "latent noise", "latent nothing"]


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid
        validate_assignment = True

    # Every field's JSON type is checked before pydantic converts anything: 1.9 is no seed, 5 no prompt, "yes"
    # no switch (ints are fine numbers). allow_reuse: the WebUI may import this module again (Reload UI).
    @validator("*", pre=True, allow_reuse=True)
    def _refuse_coercion(cls, value: Any, field: Any) -> Any:  # noqa: N805 - pydantic v1 API
        return refuse_coercion(value, field)


StrictModel = _Strict  # for the other request-shaped models (REST bodies)


class SegmentOptions(_Strict):
    """Text-prompted segmentation (GroundingDINO → box selection → SAM → clean-up → trimap → matte)."""

    phrases: str = Field("", description='What to keep, dot-separated: "white t-shirt" or "dress . belt".')
    box_threshold: float = Field(0.35, ge=0.0, le=1.0)
    text_threshold: float = Field(0.25, ge=0.0, le=1.0)
    select: Literal["largest", "all", "topk"] = Field(
        "largest", description="Per phrase: the largest box (the paper's rule), every instance, or the top k."
    )
    top_k: int = Field(1, ge=1, le=100)
    min_area: int = Field(50, ge=0, description="Connected components smaller than this (px) are removed.")
    trimap_size: int | None = Field(
        None, ge=1, le=512, description="Half-width k of the unknown band in px (k in, k out); None scales with size."
    )
    matte: Literal["vitmatte", "classic", "none"] = "vitmatte"
    mask_source: Literal["auto", "phrase", "mask", "none"] = Field(
        "auto",
        description="Where the product mask comes from: the phrases, the caller's mask (img2img inpaint mask, an "
        "uploaded or base64 mask), or auto (the caller's mask when one is given, else the phrases). none: nothing "
        "is kept, the whole photo is inpainted and nothing is composited back (the paper's 'no segmentation' "
        "ablation stage); no segmentation model runs, and the units must not need the mask (no mask_canny).",
    )
    detector: Literal["groundingdino-py", "transformers"] = "groundingdino-py"
    sam: Literal["vit_b", "vit_l", "vit_h", "vit_h_hq", "mobile"] = "vit_b"


class ControlUnit(_Strict):
    """One ControlNet unit fed with a control map the engine computes (or the caller supplies)."""

    kind: MapKind
    weight: float = Field(1.0, ge=0.0, le=2.0)
    guidance_start: float = Field(0.0, ge=0.0, le=1.0)
    guidance_end: float = Field(1.0, ge=0.0, le=1.0)
    model: str | None = Field(None, description="ControlNet model title; None picks one by kind.")
    control_mode: ControlMode = Field(
        "balanced", description="balanced, prompt (my prompt is more important), controlnet (ControlNet is)."
    )

    # allow_reuse: the WebUI may import this module again (Reload UI, a second extension copy)
    @root_validator(skip_on_failure=True, allow_reuse=True)
    def _guidance_order(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805 - pydantic v1 API
        if values["guidance_start"] > values["guidance_end"]:
            raise ValueError("guidance_start must not exceed guidance_end")
        return values


class MapOptions(_Strict):
    """How the control maps are made (see ``python -m lib_garment maps`` for the same knobs)."""

    canny_low: int = Field(100, ge=0, le=1000)
    canny_high: int = Field(200, ge=0, le=1000)
    pose_model: str = Field("yolov8n-pose", description="yolov8n-pose, yolov8s-pose or a .pt file.")
    pose_threshold: float = Field(0.3, ge=0.0, le=1.0, description="Keypoints below this confidence are left out.")
    depth_model: str = Field(
        "depth-anything-v2-small",
        description="depth-anything-v2-small, depth-fm (DepthFM), a Depth Anything folder or a DepthFM .ckpt file.",
    )
    depth_steps: int = Field(2, ge=1, le=50, description="depth-fm: Euler steps of the flow.")
    depth_ensemble: int = Field(
        1, ge=1, le=16, description="depth-fm: predictions averaged, each from its own noise (smoother, slower)."
    )

    # allow_reuse: see ControlUnit
    @root_validator(skip_on_failure=True, allow_reuse=True)
    def _canny_order(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805 - pydantic v1 API
        if values["canny_low"] > values["canny_high"]:
            raise ValueError("canny_low must not exceed canny_high")
        return values


class GenerationOptions(_Strict):
    """The inpaint pass. None: the WebUI's current value (the tab's and the img2img request's own settings)."""

    steps: int | None = Field(None, ge=1, le=150)
    cfg_scale: float | None = Field(None, ge=1.0, le=30.0)
    sampler: str | None = None
    denoising_strength: float = Field(
        1.0, ge=0.0, le=1.0, description="1.0 repaints the regenerated region from scratch."
    )
    width: int | None = Field(None, ge=64, le=4096, description="Generation size; None fits the photo in 1024 px.")
    height: int | None = Field(None, ge=64, le=4096)
    # None below: in the always-on section and the img2img script, the user's img2img settings (Mask blur, Masked
    # content, Inpaint area, Only masked padding) or the API request's; elsewhere 4, original, whole picture, 32.
    mask_blur: int | None = Field(None, ge=0, le=64)
    inpaint_padding: int | None = Field(None, ge=0, le=256)
    inpainting_fill: InpaintFill | None = None
    only_masked: bool | None = Field(None, description="Inpaint only the masked region at full resolution.")
    batch_count: int = Field(1, ge=1, le=100)


RestoreSort = Literal["none", "left_to_right", "center_out", "area"]
RestoreMapKind = Literal["canny", "lines", "pose", "depth", "normal"]  # made from each pass's crop (no mask)
RESTORE_MAP_KINDS: tuple[str, ...] = get_args(RestoreMapKind)


class RestoreControlUnit(ControlUnit):
    """A ControlNet unit for every nested restore pass, fed with a map made from that pass's crop (e.g. depth
    for hands); the kinds and fields are those of ``control``, less mask_canny (a crop has no product mask)."""

    kind: RestoreMapKind = Field(
        ..., description=f"{', '.join(RESTORE_MAP_KINDS[:-1])} or {RESTORE_MAP_KINDS[-1]}, made from the crop."
    )


class RestoreOptions(_Strict):
    """Hand and face restoration after generation (Kong & Wu 2024 §4.4): each detected face and hand is cropped
    to a square, its skin regenerated by an img2img pass and blended back; the kept garment stays exact."""

    enabled: bool = False
    faces: bool = True
    hands: bool = True
    prompt: str = Field("", description="Shared restore prompt; [SEP] separates per-detection entries.")
    negative_prompt: str = ""
    denoising_strength: float = Field(0.4, ge=0.0, le=1.0)
    face_detector: str = Field(
        "face_yolov8n",
        description="face_yolov8n, face_yolov8s, mediapipe_face_short, mediapipe_face_full, haar (OpenCV, "
        "offline) or the path of a YOLOv8 .pt file.",
    )
    hand_detector: str = Field(
        "hand_yolov8n", description="hand_yolov8n, mediapipe_hands (offline) or the path of a YOLOv8 .pt file."
    )
    confidence: float = Field(
        0.3, ge=0.0, le=1.0, description="Detections below this score are left alone (any value, also < 0.25)."
    )
    top_k: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Restore at most this many of each kind (faces and hands counted apart, as ADetailer counts "
        "per model), ranked by rank_by; None: all.",
    )
    rank_by: Literal["area", "confidence"] = Field("area", description="What top_k keeps: the largest or surest.")
    sort: RestoreSort = Field(
        "none",
        description="Order of the passes (and of [SEP] prompts): the detector's, left to right, from the centre "
        "outward, or largest first.",
    )
    # A plain [] default (pydantic copies it per request), not a factory: exclude_defaults then leaves it out of
    # the infotext, which records only what the user changed.
    classes: list[str] = Field([], description="Model class names to keep (e.g. 'face' of a multi-class model).")
    min_ratio: float = Field(0.0, ge=0.0, le=1.0, description="Least detection area as a share of the image.")
    max_ratio: float = Field(1.0, ge=0.0, le=1.0, description="Largest detection area as a share of the image.")
    face_prompt: str = Field("", description="Faces' prompts ([SEP] list, [PROMPT] = the main prompt, [SKIP]).")
    face_negative_prompt: str = ""
    hand_prompt: str = Field("", description="Hands' prompts ([SEP] list, [PROMPT] = the main prompt, [SKIP]).")
    hand_negative_prompt: str = ""
    steps: int | None = Field(None, ge=1, le=150, description="None: the generation's steps.")
    cfg_scale: float | None = Field(None, ge=1.0, le=30.0, description="None: the generation's CFG scale.")
    sampler: str | None = Field(None, description="None: the generation's sampler.")
    crop_size: int = Field(512, ge=64, le=2048, description="Side of the regenerated square crop (multiple of 8).")
    padding: float = Field(
        0.25, ge=0.0, le=4.0, description="Context around each detection, as a share of its longer side."
    )
    mask_blur: int = Field(4, ge=0, le=64, description="Blur of the skin mask in the img2img pass (px).")
    matte: Literal["classic", "none", "model"] = Field(
        "classic",
        description="The skin matte's edge: classic (closed form), none (hard) or model (ViTMatte; when it "
        "cannot be had, the classic matte is used and the result says so).",
    )
    blend: Literal["normal", "mixed", "alpha"] = Field(
        "normal", description="Poisson blend (normal or mixed gradients) or a plain alpha paste."
    )
    skin_model: Literal["colour", "fcn"] = Field(
        "colour", description="Which pixels are skin: colour rules (no weights) or an FCN-ResNet101 skin model."
    )
    skin_model_path: str | None = Field(
        None,
        description="skin_model fcn: its state dict (.safetensors, or a trusted .pth); a bare name is looked up "
        "in models/garment_studio/skin.",
    )
    controlnet: RestoreControlUnit | None = Field(
        None, description="A ControlNet unit for each nested pass, its map made from the crop; None: no unit."
    )

    # allow_reuse: see ControlUnit
    @root_validator(skip_on_failure=True, allow_reuse=True)
    def _consistent(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805 - pydantic v1 API
        if values["min_ratio"] > values["max_ratio"]:
            raise ValueError("min_ratio must not exceed max_ratio")
        if values["crop_size"] % 8:
            raise ValueError("crop_size must be a multiple of 8")
        if values["enabled"] and not (values["faces"] or values["hands"]):
            raise ValueError("restore needs faces or hands (or both) switched on")
        for name in ("face_detector", "hand_detector"):
            if not values[name].strip():
                raise ValueError(f"{name} must name a detector")
        if any(not name.strip() for name in values["classes"]):
            raise ValueError("classes must be non-empty class names")
        path = (values["skin_model_path"] or "").strip()
        if values["skin_model"] == "fcn" and not path:
            raise ValueError("skin_model fcn needs skin_model_path (the FCN-ResNet101 state dict)")
        if values["skin_model"] == "colour" and path:
            raise ValueError("skin_model_path is used with skin_model fcn only; set skin_model to fcn")
        return values


class ModelDescription(_Strict):
    """The person the model task generates, said field by field and composed into the prompt
    (``lib_garment.generate.describe``); empty fields say nothing."""

    gender: str = Field("", max_length=80, description='e.g. "woman", "man"')
    age: str = Field("", max_length=80, description='e.g. "in her 30s", "25 years old"')
    body: str = Field("", max_length=80, description='build, e.g. "slim build", "athletic", "plus-size"')
    ethnicity: str = Field("", max_length=80, description='e.g. "East Asian", "Black", "Latina"')
    expression: str = Field("", max_length=80, description='e.g. "smiling", "neutral expression"')
    pose: str = Field(
        "", max_length=120, description='e.g. "standing, hands on hips" (a pose unit follows the photo\'s pose)'
    )
    scene: str = Field("", max_length=120, description='e.g. "on a city street at dusk"')


ShadowKind = Literal["none", "contact", "drop"]
PRESET_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # a preset file's stem (lib_garment/presets/schema.py)
COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


class ShadowOptions(_Strict):
    """A shadow made from the product's matte (lib_garment/presets/shadows.py); it never covers the product."""

    kind: ShadowKind
    opacity: float = Field(0.35, ge=0.0, le=1.0)
    softness: float = Field(0.05, ge=0.0, le=1.0, description="Blur, as a share of the product's height.")
    direction: float = Field(60.0, ge=0.0, le=360.0, description="Degrees the shadow falls to (0 right, 90 down).")
    distance: float = Field(0.03, ge=0.0, le=1.0, description="drop: offset, as a share of the product's height.")


class OutputOptions(_Strict):
    save_mask: bool = True
    save_maps: bool = False
    background: str | None = Field(
        None,
        description='"white" or "#RRGGBB": the product on exactly that plain colour, nothing generated (the tab and '
        "/generate skip the diffusion; in the img2img scripts it replaces the generated scene); with a preset, "
        "framed on its canvas. None keeps the generated background.",
    )
    shadow: ShadowOptions | ShadowKind | None = Field(
        None,
        description='On a plain background or a preset\'s canvas: "none", "contact", "drop" or an object with kind '
        "and its settings.",
    )

    # allow_reuse: see ControlUnit
    @validator("background", allow_reuse=True)
    def _colour(cls, value: str | None) -> str | None:  # noqa: N805 - pydantic v1 API
        if value is not None and value != "white" and not COLOUR.match(value):
            raise ValueError(f'must be "white" or a colour "#RRGGBB", got {value!r}')
        return value


class GarmentRequest(_Strict):
    """Everything one Garment Studio job needs; defaults reproduce the paper's background task."""

    version: Literal[1] = REQUEST_VERSION
    task: Task = "background"
    prompt: str = ""
    negative_prompt: str = ""
    segment: SegmentOptions = Field(default_factory=SegmentOptions)
    control: list[ControlUnit] | None = Field(
        None, description="ControlNet units; None uses the task's defaults from the paper's ablations."
    )
    maps: MapOptions = Field(default_factory=MapOptions)
    generation: GenerationOptions = Field(default_factory=GenerationOptions)
    allow_without_controlnet: bool = Field(
        False, description="Generate without ControlNet units when sd-webui-controlnet is missing (else an error)."
    )
    reference_image: str | None = Field(
        None,
        description="txt2img only: the photo (base64 or data URL) the control maps are made from, e.g. a "
        "mannequin shot; img2img uses its init image.",
    )
    reference_mask: str | None = Field(
        None,
        description="txt2img only: what the reference photo keeps (white or opaque = keep; base64 or data URL, "
        "its size), for the outline unit (mask_canny) without segmentation phrases.",
    )
    model: ModelDescription = Field(
        default_factory=ModelDescription, description="model task: the person to generate, added to the prompt."
    )
    restore: RestoreOptions = Field(default_factory=RestoreOptions)
    preset: str | None = Field(
        None,
        description="A marketplace preset's name (python -m lib_garment presets lists them): the result is framed "
        "on its canvas and checked against its rules.",
    )
    seed: int = Field(-1, ge=-1)
    output: OutputOptions = Field(default_factory=OutputOptions)

    # Only the name's shape here: which presets exist depends on the user's folder, checked where presets are
    # loaded (lib_garment/presets/load.py names the valid ones). allow_reuse: see ControlUnit.
    @validator("preset", allow_reuse=True)
    def _preset_name(cls, value: str | None) -> str | None:  # noqa: N805 - pydantic v1 API
        if value is not None and not PRESET_NAME.match(value):
            raise ValueError(f"must be a preset name (lower-case letters, digits, hyphens), got {value!r}")
        return value

    # allow_reuse: see ControlUnit
    @root_validator(skip_on_failure=True, allow_reuse=True)
    def _model_for_the_model_task(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805 - pydantic v1 API
        if values["task"] != "model" and values["model"] != ModelDescription():
            raise ValueError("model describes the person of the model task: set task to model, or leave model out")
        return values

    # allow_reuse: see ControlUnit
    @root_validator(skip_on_failure=True, allow_reuse=True)
    def _nothing_kept(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805 - pydantic v1 API
        """mask_source none keeps nothing: no outline to draw, no product to frame on a canvas."""
        if values["segment"].mask_source != "none":
            return values
        control = values["control"]
        # None means the task's default units, and both tasks' defaults outline the product (mask_canny).
        if control is None or any(unit.kind == "mask_canny" for unit in control):
            raise ValueError(
                "segment.mask_source none keeps nothing, so there is no outline for a mask_canny unit: give control "
                "without mask_canny ([] for no units)"
            )
        if values["preset"] is not None or values["output"].background is not None:
            raise ValueError("segment.mask_source none keeps no product to put on a preset's canvas or a background")
        if values["reference_image"] is not None:
            raise ValueError("segment.mask_source none is for img2img (the photo is regenerated), not txt2img")
        return values


def parse_request(data: Any) -> GarmentRequest:
    """Validate a plain dict (REST, UI state, JSON file) into a request; BadInput names every bad field."""
    if isinstance(data, GarmentRequest):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"Garment Studio settings must be a JSON object, got {type(data).__name__}")
    try:
        return GarmentRequest.parse_obj(data)
    except ValidationError as err:
        raise BadInput("invalid Garment Studio request: " + describe_problems(validation_problems(err))) from None


EXTRA_MESSAGE = "unknown field (not part of the Garment Studio request)"


class Problem(TypedDict):
    """One validation problem, shaped as FastAPI's 422 ``detail`` entries are."""

    loc: list[Any]
    msg: str
    type: str


def validation_problems(err: ValidationError, prefix: Sequence[Any] = ()) -> list[Problem]:
    """pydantic's errors with each location under ``prefix`` ("__root__" dropped: it is a model's own check)
    and extras worded as unknown fields, so every entry point reports a bad request alike."""
    return [
        Problem(
            loc=[*prefix, *(part for part in problem["loc"] if part != "__root__")],
            msg=EXTRA_MESSAGE if problem["type"] == "value_error.extra" else problem["msg"],
            type=problem["type"],
        )
        for problem in err.errors()
    ]


def describe_problems(problems: Sequence[Problem], where: Callable[[str], str] | None = None) -> str:
    """The problems on one line: each as ``WHERE: message``, ``where`` turning the field's dotted path into
    what the reader knows (a command-line flag, a file's field); by default the path itself."""
    where = where or (lambda path: path or "request")
    return "; ".join(f"{where(dotted_path(problem))}: {problem['msg']}" for problem in problems)


def dotted_path(problem: Problem) -> str:
    """The problem's field as ``restore.controlnet.kind`` ("" for the request itself)."""
    return ".".join(str(part) for part in problem["loc"])


def request_json_schema() -> dict[str, Any]:
    """JSON schema of the request, as served by the REST API."""
    return GarmentRequest.schema()
