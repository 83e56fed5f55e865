"""Sample photos to try the job on without a photo of your own (``python -m lib_garment run --sample NAME``).

Only pictures that are public domain and already on disk with a package the WebUI installs anyway, so trying
the job downloads no picture and raises no licence question:

- ``astronaut``: NASA's portrait of astronaut Eileen Collins in her white spacesuit (NASA, public domain),
  shipped inside scikit-image as ``skimage.data.astronaut()`` (512×512 RGB). The suit is the "garment":
  the default phrase is "white suit".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lib_garment.errors import BadInput, ModelUnavailable


@dataclass(frozen=True)
class Sample:
    name: str
    keep: str  # the default --keep phrase: what the sample's garment is
    credit: str  # author, licence and where the file comes from
    load: Callable[[], np.ndarray]


def _astronaut() -> np.ndarray:
    try:
        from skimage import data
    except ImportError:
        raise ModelUnavailable(
            "the astronaut sample ships with scikit-image, which is not installed here: pip install scikit-image "
            "(AUTOMATIC1111 installs it), or give a photo of your own"
        ) from None
    return data.astronaut()


SAMPLES: dict[str, Sample] = {
    "astronaut": Sample(
        name="astronaut",
        keep="white suit",
        credit="Eileen Collins in her spacesuit, NASA (public domain); from scikit-image: skimage.data.astronaut()",
        load=_astronaut,
    ),
}


def sample_names() -> tuple[str, ...]:
    return tuple(SAMPLES)


def get_sample(name: str) -> Sample:
    try:
        return SAMPLES[name]
    except KeyError:
        raise BadInput(f"no sample called {name!r} (there is: {', '.join(SAMPLES)})") from None


def load_sample(name: str) -> np.ndarray:
    """The sample's pixels as (H, W, 3) uint8 RGB; ModelUnavailable when the package holding it is missing."""
    image = np.asarray(get_sample(name).load())
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise BadInput(f"sample {name!r} is not an RGB photo (got {image.dtype} {image.shape})")
    return np.ascontiguousarray(image)
