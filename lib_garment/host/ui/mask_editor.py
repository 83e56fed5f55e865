"""The tab's photo editor, where the user paints the product to keep: one widget per gradio, one value shape out.

- gradio 3.41 (AUTOMATIC1111 1.10.1): ``gr.Image(source="upload", tool="sketch", type="pil")``, the widget of
  the WebUI's own inpaint tab. Its value is ``{"image": PIL, "mask": PIL}``; gradio has already turned the
  strokes' alpha into a white-on-black RGB mask (or sends None / an all-black mask when nothing was painted).
- gradio 4 (Forge): ``tool=`` and ``source=`` are gone (Forge would silently drop them), so the editor is
  ``gr.ImageEditor(type="pil")``, whose value is ``{"background": PIL, "layers": [PIL RGBA], "composite": PIL}``;
  the strokes are the layers' alpha. With no photo uploaded, gradio 4 sends a fully transparent background: that
  counts as no photo.

:func:`normalise` turns either (or a plain image) into :class:`EditorValue`: the photo as RGB and the painted
area as an "L" mask, 255 where painted, at the photo's size, or None when nothing was painted. A painted pixel is
one the brush touched at all, the engine's rule for every coarse mask (``lib_garment.segment.coarse``).
:func:`uploaded_mask` reads a mask file the user uploads instead (white or opaque = keep) by the same rule.
Neither needs gradio: they take what gradio hands the handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lib_garment.errors import BadInput
from lib_garment.imageio import open_image
from lib_garment.segment.coarse import coarse_mask_from_image

BRUSH_COLOUR = "#22c55e"  # green = keep; visible on white and black garments alike
EDITOR_KEYS_3 = frozenset({"image", "mask"})
EDITOR_KEYS_4 = frozenset({"background", "layers", "composite"})


@dataclass(frozen=True)
class EditorValue:
    """The editor's photo (RGB) and the painted area ("L", 255 = painted, photo size; None: nothing painted)."""

    image: Image.Image | None
    mask: Image.Image | None

    def mask_array(self) -> np.ndarray | None:
        return None if self.mask is None else np.asarray(self.mask)


def gradio_major(version: str | None = None) -> int:
    """The major version of ``version`` (default: the installed gradio's)."""
    if version is None:
        import gradio

        version = gradio.__version__
    head = str(version).split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def build_editor(label: str, elem_id: str, *, major: int | None = None, height: int | None = None) -> Any:
    """The editor for the running gradio (both return what :func:`normalise` reads)."""
    import gradio as gr

    major = gradio_major() if major is None else major
    if major >= 4:
        return gr.ImageEditor(
            label=label,
            type="pil",
            image_mode="RGBA",  # the layers' alpha is the mask: never let gradio flatten it
            sources=["upload", "clipboard"],
            transforms=(),  # no crop: the photo must stay the photo, pixel for pixel
            layers=False,
            brush=gr.Brush(colors=[BRUSH_COLOUR], default_color=BRUSH_COLOUR, color_mode="fixed"),
            eraser=gr.Eraser(),
            format="png",
            height=height,
            elem_id=elem_id,
        )
    return gr.Image(
        label=label,
        source="upload",
        tool="sketch",
        type="pil",
        image_mode="RGB",
        brush_color=BRUSH_COLOUR,
        height=height,
        elem_id=elem_id,
    )


def normalise(value: Any) -> EditorValue:
    """Either gradio's editor value (or a plain image, or None) as :class:`EditorValue`; BadInput when the value
    has a shape no editor sends."""
    if value is None:
        return EditorValue(None, None)
    if isinstance(value, dict):
        keys = set(value)
        if keys & EDITOR_KEYS_4:
            return _from_image_editor(value)
        if keys & EDITOR_KEYS_3:
            return _from_sketch(value)
        raise BadInput(f"the photo editor sent an unexpected value (keys {sorted(map(str, keys))})")
    image = _picture(value, "photo")
    return EditorValue(None if image is None else _rgb(image), None)


def _from_sketch(value: dict[str, Any]) -> EditorValue:
    image = _picture(value.get("image"), "photo")
    if image is None:
        return EditorValue(None, None)
    mask = _picture(value.get("mask"), "painted mask")
    painted = None if mask is None else _painted(coarse_mask_from_image(mask), image.size)
    return EditorValue(_rgb(image), painted)


def _from_image_editor(value: dict[str, Any]) -> EditorValue:
    image = _picture(value.get("background"), "photo")
    if image is None or _blank(image):  # a drawing on an empty canvas is no photo
        return EditorValue(None, None)
    union: np.ndarray | None = None
    for layer in value.get("layers") or []:
        picture = _picture(layer, "painted layer")
        if picture is None:
            continue
        alpha = np.asarray(picture.convert("RGBA"))[..., 3] > 0  # a stroke is wherever the brush left alpha
        alpha = _resized(alpha, image.size)
        union = alpha if union is None else union | alpha
    return EditorValue(_rgb(image), None if union is None else _painted(union, image.size))


def uploaded_mask(value: Any, what: str = "uploaded mask") -> np.ndarray | None:
    """An uploaded mask as (H, W) uint8 0/255 (255 = keep: any non-zero pixel, or by alpha for a cut-out)."""
    picture = _picture(value, what)
    if picture is None:
        return None
    return (coarse_mask_from_image(picture) * 255).astype(np.uint8)


def combined_mask(editor: EditorValue, upload: np.ndarray | None) -> np.ndarray | None:
    """What to keep for the editor's photo: the painted area plus the uploaded mask (either may be absent).

    An uploaded mask of another size than the photo is refused by name rather than stretched."""
    painted = editor.mask_array()
    if upload is None:
        return painted
    if editor.image is not None and upload.shape[:2] != (editor.image.height, editor.image.width):
        raise BadInput(
            f"the uploaded mask is {upload.shape[1]}x{upload.shape[0]} but the photo is "
            f"{editor.image.width}x{editor.image.height}; they must have the same size"
        )
    return upload if painted is None else np.maximum(painted, upload)


def _picture(value: Any, what: str) -> Image.Image | None:
    """PIL image from what gradio may hand over: PIL, an array, a file path (or a gradio file dict)."""
    if value is None:
        return None
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype != np.uint8:
            raise BadInput(f"the {what} must be 8-bit, got {value.dtype}")
        return Image.fromarray(value)
    if isinstance(value, dict):
        value = value.get("path") or value.get("name")
        if value is None:
            return None
    if isinstance(value, str | Path):
        return open_image(value, what)
    raise BadInput(f"the {what} has an unexpected type {type(value).__name__}")


def _blank(image: Image.Image) -> bool:
    """gradio 4's editor sends a fully transparent 800x600 background when no photo was uploaded."""
    if "A" not in image.getbands():
        return False
    return image.getchannel("A").getextrema()[1] == 0


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


def _resized(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A bool mask at ``size`` (width, height): a canvas may hand the strokes back at its own size."""
    if (mask.shape[1], mask.shape[0]) == size:
        return mask
    picture = Image.fromarray((mask * 255).astype(np.uint8), mode="L").resize(size, Image.NEAREST)
    return np.asarray(picture) > 0


def _painted(mask: np.ndarray, size: tuple[int, int]) -> Image.Image | None:
    mask = _resized(np.asarray(mask, dtype=bool), size)
    if not mask.any():
        return None
    return Image.fromarray((mask * 255).astype(np.uint8), mode="L")
