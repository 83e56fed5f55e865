"""Preprocessors and models the fake sd-webui-controlnet knows (its ``global_state`` stand-in).

Preprocessors are a subset of v1.1.455's, keyed by internal name with their UI labels; either spelling is
accepted (host-contract §5 "Module names"). Models are the files in ``models/ControlNet`` and the extension's
``models/``, titled ``<stem> [<hash>]``; a model name is resolved like the extension does: exact title, then
the lowercased stem, then the shortest stem containing the search text.
"""

# Paths stay os.path strings on purpose: the WebUI's own values and helpers are str-based.
# ruff: noqa: PTH100, PTH112, PTH118, PTH119, PTH120, PTH122

from __future__ import annotations

import dataclasses
import os
from collections import OrderedDict

from modules import paths, sd_models

CN_MODEL_EXTS = (".pt", ".pth", ".ckpt", ".safetensors", ".bin")
EXTENSION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Slider:
    value: float
    minimum: float
    maximum: float


_RESOLUTION = Slider(512, 64, 2048)
_THRESHOLD = Slider(0.5, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Preprocessor:
    name: str
    label: str
    slider_resolution: Slider = _RESOLUTION
    slider_1: Slider = _THRESHOLD
    slider_2: Slider = _THRESHOLD
    model_free: bool = False


_PREPROCESSORS = [
    Preprocessor("none", "none"),
    Preprocessor("invert", "invert (from white bg & black line)"),
    Preprocessor("canny", "canny", slider_1=Slider(100, 1, 255), slider_2=Slider(200, 1, 255)),
    Preprocessor("mlsd", "mlsd", slider_1=Slider(0.1, 0.01, 2.0), slider_2=Slider(0.1, 0.01, 20.0)),
    Preprocessor("depth", "depth_midas"),
    Preprocessor("depth_anything_v2", "depth_anything_v2"),
    Preprocessor("depth_zoe", "depth_zoe"),
    Preprocessor("normal_bae", "normal_bae"),
    Preprocessor("normal_map", "normal_midas"),
    Preprocessor("openpose", "openpose"),
    Preprocessor("openpose_full", "openpose_full"),
    Preprocessor("dw_openpose_full", "dw_openpose_full"),
    Preprocessor("lineart", "lineart_realistic"),
    Preprocessor("lineart_standard", "lineart_standard (from white bg & black line)"),
    Preprocessor("hed", "softedge_hed"),
    Preprocessor("inpaint_global_harmonious", "inpaint_global_harmonious"),
    Preprocessor("inpaint_only", "inpaint_only"),
    Preprocessor("tile_resample", "tile_resample"),
    Preprocessor("shuffle", "shuffle"),
    Preprocessor("reference_only", "reference_only", model_free=True),
    Preprocessor("threshold", "threshold"),
    Preprocessor("blur_gaussian", "blur_gaussian"),
]
_BY_NAME = {p.name: p for p in _PREPROCESSORS}
_BY_LABEL = {p.label: p for p in _PREPROCESSORS}

cn_models: OrderedDict[str, str | None] = OrderedDict()  # title -> path ("None" -> None first)
cn_models_names: dict[str, str] = {}  # lowercased stem -> title


def get_preprocessor(name: str | None) -> Preprocessor | None:
    if name is None:
        return None
    return _BY_NAME.get(name) or _BY_LABEL.get(name)


def preprocessors() -> list[Preprocessor]:
    return list(_PREPROCESSORS)


def _model_dirs() -> list[str]:
    return [os.path.join(paths.models_path, "ControlNet"), os.path.join(EXTENSION_DIR, "models")]


def update_cn_models() -> None:
    found: OrderedDict[str, str | None] = OrderedDict({"None": None})
    for directory in _model_dirs():
        if not os.path.isdir(directory):
            continue
        for filename in sorted(os.listdir(directory)):
            stem, ext = os.path.splitext(filename)
            if ext in CN_MODEL_EXTS and stem != "None":
                path = os.path.join(directory, filename)
                found.setdefault(f"{stem} [{sd_models.model_hash(path)}]", path)
    cn_models.clear()
    cn_models.update(found)
    cn_models_names.clear()
    for title, path in cn_models.items():
        if path is not None:
            cn_models_names[os.path.splitext(os.path.basename(path))[0].lower()] = title


def find_closest_model(search: str | None) -> str | None:
    if not search:
        return None
    if search in cn_models:
        return search
    search = search.lower()
    if search in cn_models_names:
        return cn_models_names[search]
    candidates = sorted((name for name in cn_models_names if search in name), key=len)
    return cn_models_names[candidates[0]] if candidates else None


update_cn_models()
