"""One registry of the models Garment Studio can use: where their files go and where existing copies are reused.

Downloads (URL + SHA-256 verification) and loaders build on this table; the foundation uses it to tell
users which files are present.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lib_garment.paths import MODELS_SUBDIR


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    folder: str                 # under <models>/garment_studio/
    files: tuple[str, ...]      # a file, or the files that make up a model folder
    licence: str
    url: str
    default: bool = False
    reuse_folders: tuple[str, ...] = ()   # other extensions' folders under <models>/ that may hold it
    is_dir: bool = False        # a Hugging Face style folder named ``name`` holding ``files``


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("groundingdino_swint_ogc", "grounding-dino", "grounding-dino",
              ("groundingdino_swint_ogc.pth",), "Apache-2.0",
              "https://huggingface.co/ShilongLiu/GroundingDINO", default=True,
              reuse_folders=("grounding-dino",)),
    ModelSpec("bert-base-uncased", "grounding-dino", "bert", ("config.json", "vocab.txt"), "Apache-2.0",
              "https://huggingface.co/google-bert/bert-base-uncased", default=True, is_dir=True),
    ModelSpec("sam_vit_b", "sam", "sam", ("sam_vit_b_01ec64.pth",), "Apache-2.0",
              "https://dl.fbaipublicfiles.com/segment_anything/", default=True, reuse_folders=("sam",)),
    ModelSpec("sam_vit_h", "sam", "sam", ("sam_vit_h_4b8939.pth",), "Apache-2.0",
              "https://dl.fbaipublicfiles.com/segment_anything/", reuse_folders=("sam",)),
    ModelSpec("mobile_sam", "sam", "sam", ("mobile_sam.pt",), "Apache-2.0",
              "https://github.com/ChaoningZhang/MobileSAM", reuse_folders=("sam",)),
    ModelSpec("vitmatte-small-composition-1k", "matting", "vitmatte",
              ("config.json", "preprocessor_config.json"), "MIT",
              "https://huggingface.co/hustvl/vitmatte-small-composition-1k", default=True, is_dir=True),
    ModelSpec("Depth-Anything-V2-Small-hf", "depth", "depth",
              ("config.json", "preprocessor_config.json"), "Apache-2.0",
              "https://huggingface.co/depth-anything/Depth-Anything-V2-Small-hf", default=True, is_dir=True),
    ModelSpec("yolov8n-pose", "pose", "yolo", ("yolov8n-pose.pt",), "AGPL-3.0",
              "https://github.com/ultralytics/assets/releases", default=True),
    ModelSpec("face_yolov8n", "restore", "yolo", ("face_yolov8n.pt",), "AGPL-3.0",
              "https://huggingface.co/Bingsu/adetailer", default=True, reuse_folders=("adetailer",)),
    ModelSpec("hand_yolov8n", "restore", "yolo", ("hand_yolov8n.pt",), "AGPL-3.0",
              "https://huggingface.co/Bingsu/adetailer", default=True, reuse_folders=("adetailer",)),
)


def search_folders(spec: ModelSpec, models_root: Path) -> list[Path]:
    """Folders looked in, in order: our own first, then other extensions' copies."""
    return [models_root / MODELS_SUBDIR / spec.folder, *(models_root / f for f in spec.reuse_folders)]


def locate(spec: ModelSpec, models_root: Path) -> Path | None:
    """The file (or model folder) on disk, or None when it is not in any search folder."""
    for folder in search_folders(spec, models_root):
        if spec.is_dir:
            candidate = folder / spec.name
            if all((candidate / f).is_file() for f in spec.files):
                return candidate
        elif (folder / spec.files[0]).is_file():
            return folder / spec.files[0]
    return None
