"""Shared helpers for the segmentation model tests (no tests here).

The tiny random models of ``tests/factories`` are laid out in a models folder exactly where the registry
expects its files, and described by registry entries with the same names but the tiny files' sizes and
SHA-256. ``ensure_model`` then finds and verifies them like real downloads, so the production assembly
(``build_backends``) runs unchanged, offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.models.registry import ModelFile, ModelSpec, get_spec, own_folder

RED, BLUE, BACKGROUND = (210, 40, 40), (40, 60, 200), (235, 235, 235)
PHRASES = "red shirt . blue belt . white collar"  # three phrases
NOWHERE = "https://example.invalid/never-downloaded"


def garment_photo(height: int = 180, width: int = 240, seed: int = 0) -> np.ndarray:
    """A light background with a red and a blue block (and a little noise, so no two photos are equal)."""
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    image[height // 6 : height * 2 // 3, width // 6 : width // 2] = RED
    image[height // 2 : height * 5 // 6, width // 2 : width * 5 // 6] = BLUE
    noise = rng.integers(-3, 4, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _place(spec: ModelSpec, models_root: Path, sources: dict[str, Path]) -> ModelSpec:
    """Link ``sources`` (file name in the model → tiny file) where the registry looks, and return the entry
    with their sizes and hashes."""
    base = own_folder(spec, models_root)
    target = base / spec.name if spec.is_dir else base
    target.mkdir(parents=True, exist_ok=True)
    files = []
    for name, source in sorted(sources.items()):
        link = target / name
        if not link.exists():
            os.symlink(source, link)
        files.append(ModelFile(name, (NOWHERE,), _sha256(source), source.stat().st_size))
    return dataclasses.replace(spec, files=tuple(files))


def _folder_files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}


def tiny_registry(models_root: Path, **records: Any) -> tuple[ModelSpec, ...]:
    """Registry entries for the tiny models given (fixture records by role), their files linked under
    ``models_root``. Roles: ``groundingdino_py``, ``groundingdino_hf``, ``sam_vit`` (as sam_vit_b),
    ``mobile_sam``, ``vitmatte``."""
    specs = []
    if "groundingdino_py" in records:
        gd = records["groundingdino_py"]
        specs.append(
            _place(
                get_spec("groundingdino_swint_ogc"), models_root, {"groundingdino_swint_ogc.pth": gd.checkpoint_path}
            )
        )
        specs.append(_place(get_spec("bert-base-uncased"), models_root, _folder_files(gd.bert_dir)))
    if "groundingdino_hf" in records:
        specs.append(
            _place(get_spec("grounding-dino-tiny"), models_root, _folder_files(records["groundingdino_hf"].path))
        )
    if "sam_vit" in records:
        # The tiny file under the vit_b name: the loader reads its real (tiny) size from the tensors.
        specs.append(_place(get_spec("sam_vit_b"), models_root, {"sam_vit_b_01ec64.pth": records["sam_vit"].path}))
    if "mobile_sam" in records:
        specs.append(_place(get_spec("mobile_sam"), models_root, {"mobile_sam.pt": records["mobile_sam"].path}))
    if "vitmatte" in records:
        specs.append(
            _place(get_spec("vitmatte-small-composition-1k"), models_root, _folder_files(records["vitmatte"].path))
        )
    return tuple(specs)


def reference_hf_detection(model_dir: str, image: np.ndarray, text: str) -> dict[str, Any]:
    """transformers' own GroundingDINO post-processing at threshold 0 (runs in whichever process has it)."""
    import inspect

    import torch
    from PIL import Image
    from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor

    processor = GroundingDinoProcessor.from_pretrained(model_dir, local_files_only=True)
    model = GroundingDinoForObjectDetection.from_pretrained(model_dir, local_files_only=True).eval()
    inputs = processor(images=Image.fromarray(image), text=text, return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    params = inspect.signature(processor.post_process_grounded_object_detection).parameters
    box_kw = "box_threshold" if "box_threshold" in params else "threshold"  # 4.46 / 5.x
    (result,) = processor.post_process_grounded_object_detection(
        outputs, inputs["input_ids"], text_threshold=0.0, target_sizes=[image.shape[:2]], **{box_kw: 0.0}
    )
    return {"boxes": result["boxes"].numpy(), "scores": result["scores"].numpy()}
