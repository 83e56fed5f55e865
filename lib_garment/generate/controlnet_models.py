"""Which installed ControlNet model serves a map kind: by type (canny, openpose, depth, normal, lines) and by
the checkpoint's base model (SD1.5 or SDXL). Pure string work on the title list the host reports.

Titles look like ``control_v11p_sd15_canny [d14c016b]`` (name + short hash). A model the user names is
matched by its exact title, or by its name without the hash, case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from lib_garment.errors import ModelUnavailable

Base = Literal["sd15", "sdxl"]

# What a title must contain (any of) to serve a kind, most preferred first.
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "canny": ("canny",),
    "mask_canny": ("canny",),
    "lines": ("mlsd", "lineart", "canny"),
    "pose": ("openpose", "pose"),
    "depth": ("depth",),
    "normal": ("normal",),
}
# What to install when nothing fits, by base.
SUGGESTED: dict[Base, dict[str, str]] = {
    "sd15": {
        "canny": "control_v11p_sd15_canny",
        "mask_canny": "control_v11p_sd15_canny",
        "lines": "control_v11p_sd15_mlsd",
        "pose": "control_v11p_sd15_openpose",
        "depth": "control_v11f1p_sd15_depth",
        "normal": "control_v11p_sd15_normalbae",
    },
    "sdxl": {
        "canny": "diffusers_xl_canny_mid",
        "mask_canny": "diffusers_xl_canny_mid",
        "lines": "diffusers_xl_canny_mid",
        "pose": "thibaud_xl_openpose",
        "depth": "diffusers_xl_depth_mid",
        "normal": "a normal-map ControlNet for SDXL",
    },
}
_XL = re.compile(r"(^|[^a-z])(sdxl|xl)([^a-z]|$)")


def strip_hash(title: str) -> str:
    """``control_v11p_sd15_canny [d14c016b]`` → ``control_v11p_sd15_canny``."""
    return re.sub(r"\s*\[[0-9a-fA-F]+\]\s*$", "", title).strip()


def base_of(title: str) -> Base | None:
    """The base model a ControlNet title is for, when its name says (SDXL names carry "xl")."""
    name = strip_hash(title).lower()
    if _XL.search(name.replace("-", "_")):
        return "sdxl"
    if re.search(r"sd[-_]?1[._]?5|sd15|v11|control_sd15", name):
        return "sd15"
    return None


def usable_titles(titles: Iterable[str]) -> list[str]:
    return [t for t in titles if t and t.strip().lower() != "none"]


def find_named(wanted: str, titles: Sequence[str]) -> str | None:
    """The installed title the user meant by ``wanted``, or None."""
    lowered = wanted.strip().lower()
    for title in titles:
        if title.lower() == lowered:
            return title
    for title in titles:
        if strip_hash(title).lower() == strip_hash(lowered):
            return title
    return None


def resolve_model(kind: str, titles: Sequence[str], base: Base | None, wanted: str | None = None) -> str:
    """The title for a unit of ``kind``; ModelUnavailable naming what to install when nothing fits."""
    titles = usable_titles(titles)
    if wanted:
        found = find_named(wanted, titles)
        if found is None:
            listed = ", ".join(titles) if titles else "none"
            raise ModelUnavailable(f"ControlNet model {wanted!r} is not installed (installed: {listed})")
        return found
    for word in KIND_WORDS[kind]:
        matches = [t for t in titles if word in strip_hash(t).lower()]
        fitting = [t for t in matches if base is None or base_of(t) in (base, None)]
        exact_base = [t for t in fitting if base is not None and base_of(t) == base]
        if exact_base or fitting:
            return (exact_base or fitting)[0]
    suggestion = SUGGESTED[base or "sd15"][kind]
    base_name = {"sd15": "SD 1.5", "sdxl": "SDXL", None: "this checkpoint"}[base]
    raise ModelUnavailable(
        f"no ControlNet model for the {kind} map ({base_name}) is installed; put {suggestion} in the WebUI's "
        "models/ControlNet folder, or name an installed one in the unit's model field"
    )
