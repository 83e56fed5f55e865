"""Loading a transformers model folder the one safe way every family shares (runs in whichever process the
runtime chose, so transformers is imported here, never in the caller)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lib_garment.errors import ModelUnavailable


def load_transformers_folder(
    model_dir: str, model_class: str, processor_class: str, device: str, *, minimum: str
) -> tuple[Any, Any]:
    """``(processor, model)`` from a local folder, the model in eval mode on ``device``.

    ``minimum`` is the first transformers release with ``model_class``, named in the error when it is absent.
    When the folder holds safetensors only they are read, never a pickle lying beside them.
    """
    import transformers

    if not hasattr(transformers, model_class):
        raise ModelUnavailable(
            f"transformers {transformers.__version__} has no {model_class} (needs {minimum} or later)"
        )
    folder = Path(model_dir)
    if not (folder / "config.json").is_file():
        raise ModelUnavailable(f"{model_dir} is not a transformers model folder for {model_class} (no config.json)")
    processor = getattr(transformers, processor_class).from_pretrained(model_dir, local_files_only=True)
    safetensors = True if any(folder.glob("*.safetensors")) else None
    model = getattr(transformers, model_class).from_pretrained(
        model_dir, local_files_only=True, use_safetensors=safetensors
    )
    return processor, model.eval().to(device)
