"""Forge's ControlNet registry: model names (hash included, "None" first) and preprocessor names.

Preprocessor names are Forge's spellings (a subset): "None" with a capital N, "normalbae", "depth_midas",
"invert (from white bg & black line)", … (host-contract §5b).
"""

# Paths stay os.path strings on purpose: the WebUI's own values and helpers are str-based.
# The module-level lists are rebound like Forge's.
# ruff: noqa: PLW0603, PTH112, PTH118, PTH122

from __future__ import annotations

import os
from collections import OrderedDict

from modules import paths, sd_models

CN_MODEL_EXTS = (".pt", ".pth", ".ckpt", ".safetensors", ".bin")
controlnet_dir = os.path.join(paths.models_path, "ControlNet")

_PREPROCESSORS = [
    "None",
    "invert (from white bg & black line)",
    "canny",
    "mlsd",
    "depth_midas",
    "depth_anything_v2",
    "depth_zoe",
    "normalbae",
    "normal_midas",
    "openpose",
    "openpose_full",
    "dw_openpose_full",
    "lineart_realistic",
    "lineart_standard (from white bg & black line)",
    "softedge_hed",
    "inpaint_global_harmonious",
    "inpaint_only",
    "tile_resample",
    "shuffle",
    "reference_only",
    "threshold",
    "blur_gaussian",
]
supported_preprocessors = OrderedDict((name, name) for name in _PREPROCESSORS)

controlnet_filename_dict: dict[str, str] = {"None": "model.safetensors"}
controlnet_names: list[str] = ["None"]


def get_preprocessor(name: str) -> str | None:
    return supported_preprocessors.get(name)


def get_all_preprocessor_names() -> list[str]:
    return list(supported_preprocessors)


def get_filtered_preprocessors(tag: str) -> OrderedDict:
    if tag == "All":
        return supported_preprocessors
    return OrderedDict((k, v) for k, v in supported_preprocessors.items() if k == "None" or tag.lower() in k.lower())


def get_filtered_preprocessor_names(tag: str) -> list[str]:
    return list(get_filtered_preprocessors(tag))


def get_all_controlnet_names() -> list[str]:
    return controlnet_names


def get_controlnet_filename(controlnet_name: str) -> str:
    return controlnet_filename_dict[controlnet_name]  # KeyError for anything but an exact name (as in Forge)


def update_controlnet_filenames() -> None:
    global controlnet_filename_dict, controlnet_names
    found: dict[str, str] = {"None": "model.safetensors"}
    if os.path.isdir(controlnet_dir):
        for filename in sorted(os.listdir(controlnet_dir)):
            stem, ext = os.path.splitext(filename)
            if ext in CN_MODEL_EXTS and stem != "None":
                path = os.path.join(controlnet_dir, filename)
                found[f"{stem} [{sd_models.model_hash(path)}]"] = path
    controlnet_filename_dict = found
    controlnet_names = list(found)


update_controlnet_filenames()
