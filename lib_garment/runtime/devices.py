"""Which torch device a model runs on: resolved in the process that runs the model (the WebUI's or the
model worker's), because only that process's torch knows what it can reach."""

from __future__ import annotations

from lib_garment.errors import BadInput, ModelUnavailable

DEVICES = ("cpu", "cuda")


def check_device(device: str | None) -> str | None:
    """``device`` as given (None = automatic), or BadInput for anything but cpu, cuda and cuda:N."""
    if device is None:
        return None
    name = device.strip().lower()
    kind, _, index = name.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise BadInput(f"device must be cpu, cuda or cuda:N, got {device!r}")
    return name


def resolve_device(device: str | None) -> str:
    """The device to run on here: the one asked for, else ``cuda`` when torch sees a GPU, else ``cpu``.

    Asking for CUDA where torch has none is a missing component (ModelUnavailable), not a bad argument: the
    same request works on the machine with the GPU.
    """
    import torch

    name = check_device(device)
    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelUnavailable(
                f"device {name} was asked for, but this torch ({torch.__version__}) sees no CUDA GPU; use --device cpu"
            )
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ModelUnavailable(f"device {name} was asked for, but only {torch.cuda.device_count()} GPU(s) exist")
    return name
