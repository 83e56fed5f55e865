"""Which files make an image set, and how each becomes the 8-bit RGB array the metrics see.

The rules (they move FID by several points, so they are fixed and reported):

- **Files**: the folder's own files (not its subfolders) whose suffix is .png, .jpg, .jpeg, .webp, .bmp, .tif
  or .tiff, in name order; other files (result.json, results.csv, …) and hidden files are not images of the set.
  A file with an image suffix that does not decode is an error that names it (all such files at once).
- **Modes**: every image is decoded as stored (EXIF rotation applied) and converted to 8-bit RGB: grey is
  repeated over three channels, palette images expanded, an alpha channel is dropped (the RGB values stored
  under it are used, not a composite), 16-bit and float images are scaled to 8 bits as ``imageio`` does.
- **Sizes**: mixed sizes are allowed. Each image is resized on its own to 299 × 299 by torch-fidelity's
  TensorFlow-1-compatible bilinear resize inside the Inception network (the resize the original FID code does),
  stretched: no crop, aspect ratio not kept. Sets whose images have other aspect ratios than the real set's are
  therefore also compared on that stretch.
- **Formats**: pixels are taken as decoded. A JPEG set compared with a PNG set carries JPEG's compression
  artefacts into the score (clean-fid's study measures several FID points for this), so the formats seen in each
  set are reported and a note is added when they differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib_garment.errors import BadInput
from lib_garment.imageio import image_to_mask, image_to_rgb, open_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
FORMAT_OF_SUFFIX = {".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff"}


def list_images(folder: str | Path, what: str) -> list[Path]:
    """The set's image files (see the module's rules); BadInput for a missing or empty folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{what}: {folder} is not a folder")
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise BadInput(f"{what}: {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    return FORMAT_OF_SUFFIX.get(suffix, suffix.lstrip("."))


@dataclass(frozen=True)
class ImageSet:
    """A decoded set: RGB uint8 arrays in file order, with what the report says about them."""

    what: str
    paths: tuple[Path, ...]
    images: tuple[np.ndarray, ...]

    @property
    def sizes(self) -> dict[str, int]:
        return dict(Counter(f"{a.shape[1]}x{a.shape[0]}" for a in self.images))

    @property
    def formats(self) -> dict[str, int]:
        return dict(Counter(file_format(p) for p in self.paths))

    def describe(self) -> dict[str, object]:
        return {"count": len(self.images), "sizes": self.sizes, "formats": self.formats}


def read_set(paths: Sequence[Path], what: str) -> ImageSet:
    """Decode every file to 8-bit RGB; every file that fails is named in one BadInput."""
    return ImageSet(what, tuple(paths), tuple(_decode_all(paths, what, image_to_rgb)))


def read_masks(paths: Sequence[Path], what: str) -> list[np.ndarray]:
    """Masks as 8-bit planes (an alpha channel, where it is not all opaque, is the mask); problems named at once."""
    return _decode_all(paths, what, image_to_mask)


def _decode_all(paths: Sequence[Path], what: str, convert: Callable[..., np.ndarray]) -> list[np.ndarray]:
    decoded, problems = [], []
    for path in paths:
        try:
            decoded.append(convert(open_image(path, what), f"{what} {path}"))
        except BadInput as err:  # noqa: PERF203 - every bad file is named, not only the first
            problems.append(str(err))
    if problems:
        raise BadInput(f"{what}: {len(problems)} file(s) cannot be read:\n  " + "\n  ".join(problems))
    return decoded


def format_note(real: ImageSet, generated: ImageSet) -> str | None:
    """A warning when the two sets were stored in different formats (see the module's rules)."""
    a, b = set(real.formats), set(generated.formats)
    if a == b:
        return None
    return (
        f"the sets are stored in different formats ({real.what}: {', '.join(sorted(a))}; "
        f"{generated.what}: {', '.join(sorted(b))}); compression artefacts then add to FID and KID"
    )
