"""Writing a prepared job (preview) and its results to a folder: what the tab, REST and CLI hand out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment import imageio
from lib_garment.generate.prepare import Prepared
from lib_garment.request import MAP_KINDS
from lib_garment.segment.matte import alpha_to_uint8


def preview_images(prepared: Prepared) -> dict[str, np.ndarray]:
    """The images a preview shows, by file name: overlay, mask, alpha, inpaint mask and every map."""
    seg = prepared.segmentation
    images = {
        "overlay": seg.overlay(prepared.photo),
        "mask": seg.mask,
        "alpha": alpha_to_uint8(seg.alpha),
        "inpaint_mask": prepared.plan.inpaint_mask,
    }
    images.update({f"maps/{kind}": array for kind, array in prepared.maps.items()})
    return images


def write_preview(prepared: Prepared, out: Path) -> list[Path]:
    """overlay.png, mask.png, alpha.png, inpaint_mask.png, maps/<kind>.png, then plan.json (last: complete).

    An earlier run's maps of kinds this run has not (maps/<kind>.png for our map names only: other files in
    maps/ are the user's) are removed first, so the folder shows this run's maps and no others."""
    out = Path(out)
    (out / "maps").mkdir(parents=True, exist_ok=True)
    (out / "plan.json").unlink(missing_ok=True)  # an earlier run's must not vouch for a half-written set
    for kind in set(MAP_KINDS) - set(prepared.maps):
        (out / "maps" / f"{kind}.png").unlink(missing_ok=True)
    written = [imageio.write_png(out / f"{name}.png", image) for name, image in preview_images(prepared).items()]
    written.append(imageio.write_json(out / "plan.json", prepared.to_json()))
    return written


def write_results(images: Sequence[np.ndarray], out: Path, report: dict[str, Any]) -> list[Path]:
    """result-<n>.png for each output, then result.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").unlink(missing_ok=True)
    written = [imageio.write_png(out / f"result-{i + 1}.png", image) for i, image in enumerate(images)]
    written.append(imageio.write_json(out / "result.json", report))
    return written
