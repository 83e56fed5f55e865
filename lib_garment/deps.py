"""What Garment Studio needs from the Python environment, and what the WebUI hosts pin.

Pure data. ``install_plan`` turns it into actions; ``doctor`` reports against it. Keep in step with
``requirements/project.in`` (the CI package sets install the same versions).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PinLimit:
    """Caps one of our packages while the host pins ``pinned`` below ``below``."""

    pinned: str
    below: str
    cap: str
    reason: str


@dataclass(frozen=True)
class Requirement:
    """One package the engine imports.

    ``accept`` is what we live with when something is already installed (another extension may have
    installed a newer release, and fighting it would flip-flop on every start); ``install`` is what we
    ask pip for when nothing is there.
    """

    name: str
    accept: str
    install: str
    purpose: str
    limits: tuple[PinLimit, ...] = ()
    alternatives: tuple[str, ...] = ()
    # A PEP 508 environment marker: the requirement applies only where it holds (e.g. a backport that newer
    # Pythons have built in). Empty: everywhere.
    marker: str = ""
    # Installed with pip's --no-deps: its metadata asks for something that would clash with the WebUI's packages
    # (pysodmetrics asks for opencv-python-headless, a second owner of the cv2 folder opencv-python installed),
    # while everything it imports is already there.
    no_deps: bool = False


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement(
        name="opencv-python",
        accept=">=4.7",
        install=">=4.7",
        purpose="edges, lines, morphology, Poisson blending",
        alternatives=("opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"),
    ),
    Requirement(
        name="ultralytics",
        accept=">=8.3.0",
        install=">=8.3.0",
        purpose="YOLOv8 pose, face and hand detection",
        limits=(
            PinLimit(
                pinned="httpx",
                below="0.28",
                cap="<8.4.119",
                reason="ultralytics 8.4.119 and later need httpx>=0.28 (through ultralytics-platform)",
            ),
        ),
    ),
    Requirement(
        name="segment-anything",
        accept=">=1.0",
        install="==1.0",
        purpose="SAM masks from boxes",
    ),
    Requirement(
        name="groundingdino-py",
        accept="",
        install="==0.4.0",
        purpose="GroundingDINO text-prompted boxes (pure PyTorch, nothing to compile)",
        alternatives=("groundingdino", "rf-groundingdino", "groundingdino-mod"),
    ),
    Requirement(
        name="segment-anything-hq",
        accept="",
        install="==0.3",
        purpose="SAM-HQ, sharper mask edges for thin garment parts",
    ),
    Requirement(
        name="mobilesam-mirror",
        accept="",
        install="==1.0.0",
        purpose="MobileSAM, the small SAM for 8 GB cards",
        alternatives=("mobile-sam",),
    ),
    Requirement(
        name="pymatting",
        accept=">=1.1.8",
        install="==1.1.16",
        purpose="marketplace presets: the product's own colour in its soft edge (estimate_foreground_ml)",
    ),
    Requirement(
        name="torch-fidelity",
        accept=">=0.3.0",
        install="==0.4.0",
        purpose="FID, KID and IS (python -m lib_garment evaluate); needs only numpy, Pillow, torch, torchvision",
    ),
    Requirement(
        name="scikit-learn",
        accept=">=1.0",
        install="==1.9.1",
        purpose="needed by pysodmetrics (mask quality: python -m lib_garment evaluate-masks)",
    ),
    Requirement(
        name="pysodmetrics",
        accept=">=1.4",
        install="==1.6.2",
        purpose="mask quality: S-measure, E-measure, weighted F, MAE, IoU (python -m lib_garment evaluate-masks)",
        no_deps=True,
    ),
    Requirement(
        name="tomli",
        accept=">=2.0.1",
        install=">=2.0.1",
        purpose="reading marketplace preset files (TOML) on Python before 3.11, which has no tomllib",
        marker='python_version < "3.11"',
    ),
)

# The model worker's private package folder: the models that need a newer transformers than the host
# has (GroundingDINO in transformers form, ViTMatte, Depth Anything) or diffusers, which AUTOMATIC1111 does
# not have (DepthFM), run there, in a separate process. diffusers 0.31.0 is Forge's own pin.
WORKER_PACKAGES: tuple[str, ...] = (
    "transformers==4.46.3",
    "tokenizers==0.20.3",
    "huggingface-hub==0.26.2",
    "diffusers==0.31.0",
)
WORKER_NEEDED_BELOW_TRANSFORMERS = "4.40"
WORKER_NEEDED_BELOW_DIFFUSERS = "0.31"

# Packages the WebUI launcher installs itself (not listed in requirements_versions.txt with a version).
LAUNCHER_OWNED: tuple[str, ...] = ("torch", "torchvision", "xformers")

# AUTOMATIC1111 1.10.1 requirements_versions.txt, used when the running WebUI's own file cannot be read.
A1111_1_10_1_PINS: dict[str, str] = {
    "setuptools": "69.5.1",
    "gitpython": "3.1.32",
    "pillow": "9.5.0",
    "accelerate": "0.21.0",
    "blendmodes": "2022",
    "clean-fid": "0.1.35",
    "diskcache": "5.6.3",
    "einops": "0.4.1",
    "facexlib": "0.3.0",
    "fastapi": "0.94.0",
    "gradio": "3.41.2",
    "httpcore": "0.15",
    "inflection": "0.5.1",
    "jsonmerge": "1.8.0",
    "kornia": "0.6.7",
    "lark": "1.1.2",
    "numpy": "1.26.2",
    "omegaconf": "2.2.3",
    "open-clip-torch": "2.20.0",
    "piexif": "1.1.3",
    "protobuf": "3.20.0",
    "psutil": "5.9.5",
    "pytorch-lightning": "1.9.4",
    "resize-right": "0.0.2",
    "safetensors": "0.4.2",
    "scikit-image": "0.21.0",
    "spandrel": "0.3.4",
    "spandrel-extra-arches": "0.1.1",
    "tomesd": "0.1.3",
    "torchdiffeq": "0.2.3",
    "torchsde": "0.2.6",
    "transformers": "4.30.2",
    "httpx": "0.24.1",
    "pillow-avif-plugin": "1.4.3",
}


def normalize(name: str) -> str:
    """PEP 503 name normalisation, so 'Pillow', 'pillow' and 'PIL-low' style spellings compare equal."""
    return "-".join(name.lower().replace("_", "-").replace(".", "-").split("-"))
