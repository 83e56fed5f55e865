"""``modules.images``: ``resize_image`` with the WebUI's three modes, ``save_image``, ``flatten``, grids."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, PngImagePlugin

LANCZOS = Image.Resampling.LANCZOS if hasattr(Image, "Resampling") else Image.LANCZOS


def _resize(im: Image.Image, w: int, h: int) -> Image.Image:
    return im.resize((max(int(w), 1), max(int(h), 1)), resample=LANCZOS)


def resize_image(
    resize_mode: int,
    im: Image.Image,
    width: int,
    height: int,
    upscaler_name: str | None = None,
    force_RGBA: bool = False,
) -> Image.Image:
    """0: stretch to the size; 1: scale to cover, centre-crop; anything else: scale to fit, centre, and fill
    the bars by stretching the edge rows/columns. Modes 1 and 2 return an RGB (or RGBA) image, as the WebUI's
    do, even for an "L" input."""
    if resize_mode == 0:
        return _resize(im, width, height)

    mode = "RGBA" if force_RGBA else "RGB"
    ratio = width / height
    src_ratio = im.width / im.height
    if resize_mode == 1:
        src_w = width if ratio > src_ratio else im.width * height // im.height
        src_h = height if ratio <= src_ratio else im.height * width // im.width
        resized = _resize(im, src_w, src_h)
        res = Image.new(mode, (width, height))
        res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
        return res

    src_w = width if ratio < src_ratio else im.width * height // im.height
    src_h = height if ratio >= src_ratio else im.height * width // im.width
    resized = _resize(im, src_w, src_h)
    res = Image.new(mode, (width, height))
    left, top = width // 2 - src_w // 2, height // 2 - src_h // 2
    res.paste(resized, box=(left, top))
    if ratio < src_ratio and top > 0:  # bars above and below: stretch the first and last rows
        res.paste(resized.crop((0, 0, src_w, 1)).resize((width, top)), box=(0, 0))
        bottom = top + src_h
        res.paste(resized.crop((0, src_h - 1, src_w, src_h)).resize((width, height - bottom)), box=(0, bottom))
    elif ratio > src_ratio and left > 0:  # bars left and right: stretch the first and last columns
        res.paste(resized.crop((0, 0, 1, src_h)).resize((left, height)), box=(0, 0))
        right = left + src_w
        res.paste(resized.crop((src_w - 1, 0, src_w, src_h)).resize((width - right, height)), box=(right, 0))
    return res


def flatten(img: Image.Image, bgcolor: str) -> Image.Image:
    """Composite transparent images on ``bgcolor``; always returns RGB."""
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, bgcolor)
        background.paste(img, mask=img)
        img = background
    return img.convert("RGB")


def read(fp: Any, **kwargs: Any) -> Image.Image:
    image = Image.open(fp, **kwargs)
    return ImageOps.exif_transpose(image) or image


def image_grid(imgs: list[Image.Image], batch_size: int = 1, rows: int | None = None) -> Image.Image:
    if rows is None:
        rows = max(1, int(round(len(imgs) ** 0.5)))
    cols = (len(imgs) + rows - 1) // rows
    w, h = imgs[0].size
    grid = Image.new("RGB", size=(cols * w, rows * h), color="black")
    for i, img in enumerate(imgs):
        grid.paste(img, box=(i % cols * w, i // cols * h))
    return grid


def _next_index(path: str) -> int:
    taken = [name.split("-", 1)[0] for name in os.listdir(path)]
    numbers = [int(x) for x in taken if x.isdigit()]
    return max(numbers, default=-1) + 1


def save_image(
    image: Image.Image,
    path: str,
    basename: str,
    seed: Any = None,
    prompt: str | None = None,
    extension: str = "png",
    info: str | None = None,
    short_filename: bool = False,
    no_prompt: bool = False,
    grid: bool = False,
    pnginfo_section_name: str = "parameters",
    p: Any = None,
    existing_info: dict | None = None,
    forced_filename: str | None = None,
    suffix: str = "",
    save_to_dirs: bool | None = None,
) -> tuple[str, str | None]:
    """Save as ``NNNNN-<seed><suffix>.<ext>`` (or ``forced_filename``) with the infotext in the PNG chunk,
    running the before/after image-saved callbacks. Returns ``(fullfn, None)``."""
    from modules import script_callbacks

    Path(path).mkdir(parents=True, exist_ok=True)
    if forced_filename is None:
        stem = f"{_next_index(path):05}"
        if basename:
            stem += f"-{basename}"
        if seed is not None:
            stem += f"-{seed}"
        stem += suffix
    else:
        stem = forced_filename
    fullfn = str(Path(path) / f"{stem}.{extension}")

    pnginfo = dict(existing_info or {})
    if info is not None:
        pnginfo[pnginfo_section_name] = info
    params = script_callbacks.ImageSaveParams(image, p, fullfn, pnginfo)
    script_callbacks.before_image_saved_callback(params)

    if extension.lower() == "png":
        meta = PngImagePlugin.PngInfo()
        for key, value in params.pnginfo.items():
            meta.add_text(key, str(value))
        params.image.save(params.filename, format="PNG", pnginfo=meta)
    else:
        params.image.convert("RGB").save(params.filename)

    image.already_saved_as = os.path.relpath(params.filename)
    script_callbacks.image_saved_callback(params)
    return params.filename, None
