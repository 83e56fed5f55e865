"""ultralytics YOLO as the pose estimator and the face/hand detectors use it: made offline-safe before its import,
loaded with a check of what the file predicts, and asked through one predict call.

Before ultralytics is first imported, :func:`prepare_ultralytics` makes it offline-safe: ``YOLO_OFFLINE=true``
(at import it otherwise probes DNS servers) and a settings folder that exists, with a local font so nothing it
draws downloads Arial.ttf (environment notes §2). Files are loaded only after their caller verified them (hash
or explicit trust): a ``.pt`` file is a pickle.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lib_garment.errors import BadInput, ModelUnavailable

YOLO_REQUIREMENT = "ultralytics>=8.1"  # needs no transformers: in-process by default
CONFIG_SUBDIR = "ultralytics"  # under <models>/garment_studio/: ultralytics' settings folder when none is set
FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")  # the fonts ultralytics would download for plotting


def prepare_ultralytics(config_dir: Path | None = None) -> Path | None:
    """Make ultralytics offline-safe; call before it is imported. Returns its settings folder (None when it
    was already imported by someone else, ADetailer for instance, and nothing can be changed any more).

    ``YOLO_OFFLINE`` defaults to ``true`` (a value the user set is kept). ``YOLO_CONFIG_DIR`` keeps a value
    already set; otherwise it becomes ``config_dir``. Either way the ``Ultralytics`` folder inside is created
    (ultralytics falls back to a temporary folder when it does not exist) and gets a local font.
    """
    if "ultralytics" in sys.modules:
        return None
    os.environ.setdefault("YOLO_OFFLINE", "true")
    current = os.environ.get("YOLO_CONFIG_DIR")
    if current:
        base = Path(current).expanduser()
    elif config_dir is not None:
        base = Path(config_dir)
        os.environ["YOLO_CONFIG_DIR"] = str(base)
    else:
        return None  # ultralytics' own default folder; YOLO_OFFLINE still stops the network probes
    settings = base / "Ultralytics"
    try:
        settings.mkdir(parents=True, exist_ok=True)
        _offer_font(settings)
    except OSError:  # a read-only folder: ultralytics warns and uses a temporary one, which still works
        pass
    return base


def _offer_font(settings: Path) -> None:
    missing = [name for name in FONT_NAMES if not (settings / name).exists()]
    if not missing:
        return
    try:
        import matplotlib  # an ultralytics dependency; its DejaVuSans covers Latin and many other scripts
    except ImportError:
        return
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    if font.is_file():
        for name in missing:
            shutil.copyfile(font, settings / name)


def check_predict_params(conf: float, iou: float, imgsz: int, count: int, *, what: str, count_name: str) -> None:
    """BadInput naming the first out-of-range prediction setting (``what``: e.g. "person confidence threshold")."""
    if not 0.0 <= conf <= 1.0:
        raise BadInput(f"{what} must be within 0..1, got {conf}")
    if not 0.0 < iou <= 1.0:
        raise BadInput(f"NMS IoU must be within (0, 1], got {iou}")
    if imgsz < 32 or imgsz % 32:
        raise BadInput(f"the model's input size must be a multiple of 32, got {imgsz}")
    if count < 1:
        raise BadInput(f"{count_name} must be at least 1, got {count}")


def load_yolo(model_path: str, device: str, tasks: tuple[str, ...], wanted: str) -> Any:
    """``ultralytics.YOLO(model_path)`` on ``device``, refused with a message unless its task is in ``tasks``
    (``wanted`` says what was expected: "a detector (e.g. face_yolov8n.pt)")."""
    from ultralytics import YOLO

    try:
        model = YOLO(model_path)
    except Exception as err:  # a damaged or foreign file: say which, not a traceback
        raise ModelUnavailable(f"could not load {model_path} as an ultralytics model: {err}") from err
    if model.task not in tasks:
        raise BadInput(f"{model_path} is a YOLO {model.task} model, not {wanted}")
    model.to(device)
    return model


def precision_arguments(half: bool) -> dict[str, Any]:
    """The predict argument for FP16: ``quantize=16`` since ultralytics 8.4.x deprecated ``half`` (which it
    still takes, with a warning on every call); nothing at all for FP32, the default of both."""
    if not half:
        return {}
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return {"quantize": 16} if "quantize" in DEFAULT_CFG_DICT else {"half": True}


def predict_resident(
    kind: str,
    model_path: str,
    image: np.ndarray,
    device: str | None,
    load: Any,
    config_dir: str | None,
    **settings: Any,
) -> Any:
    """:func:`predict` with the model loaded once per (``kind``, path, device) by ``load(path, device)`` and kept
    resident (``cached_model``), ultralytics made offline-safe first."""
    from lib_garment.runtime.devices import resolve_device
    from lib_garment.runtime import cached_model

    prepare_ultralytics(Path(config_dir) if config_dir else None)
    device = resolve_device(device)
    model = cached_model((kind, model_path, device), lambda: load(model_path, device), device=device)
    return predict(model, image, device, **settings)


def predict(
    model: Any,
    image: np.ndarray,
    device: str,
    *,
    conf: float,
    iou: float,
    imgsz: int,
    max_det: int,
    half: bool,
    **extra: Any,
) -> Any:
    """ultralytics' predictor on ``image`` ((H, W, 3) uint8 RGB): letterbox, forward, NMS, and boxes and
    keypoints mapped back to the image's own pixels. Returns the one result."""
    import cv2
    import torch

    bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)  # ultralytics takes arrays as BGR
    with torch.inference_mode():
        return model.predict(
            bgr,
            imgsz=imgsz,
            conf=conf,
            iou=iou,
            max_det=max_det,
            device=device,
            verbose=False,
            **precision_arguments(half and device.startswith("cuda")),
            **extra,
        )[0]
