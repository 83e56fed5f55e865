"""Random-weight YOLOv8n detect / pose checkpoints in ultralytics' own ``.pt`` format.

The files have the layout of a released, optimizer-stripped ultralytics checkpoint (what ``strip_optimizer``
writes at the end of training, e.g. ``yolov8n.pt`` or ADetailer's ``face_yolov8n.pt``): metadata, the pickled
model in FP16 carrying ``names``/``args``/``task`` (and ``kpt_shape`` for pose), ``train_args``, and the
training-only keys set to None. ``YOLO(path)`` loads them offline.

ultralytics must see ``YOLO_OFFLINE=true`` and a writable ``YOLO_CONFIG_DIR`` before its first import
(``ensure_yolo_environment``), otherwise it probes DNS at import and writes settings under $HOME.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

YAML_BY_TASK = {"detect": "yolov8n.yaml", "pose": "yolov8n-pose.yaml"}
FACE_NAMES = {0: "face"}
HAND_NAMES = {0: "hand"}
PERSON_NAMES = {0: "person"}


@dataclass(frozen=True)
class TinyYolo:
    """An ultralytics checkpoint with random weights."""

    path: Path
    task: str  # "detect" or "pose"
    yaml: str  # the model yaml it was built from
    names: dict[int, str]
    kpt_shape: tuple[int, int] | None
    num_params: int
    build_seconds: float


def ensure_yolo_environment(fallback_config_dir: Path) -> Path:
    """Make ultralytics offline and give it a prepared settings folder; return the folder in use.

    Keeps an existing ``YOLO_CONFIG_DIR`` (the CI env file sets one). Otherwise, and only if ultralytics is
    not imported yet, points it at ``fallback_config_dir`` with a local font, so plotting never downloads
    Arial.ttf.
    """
    os.environ.setdefault("YOLO_OFFLINE", "true")
    current = os.environ.get("YOLO_CONFIG_DIR")
    if current or "ultralytics" in sys.modules:
        return Path(current) if current else Path.home()
    settings_dir = fallback_config_dir / "Ultralytics"
    settings_dir.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        for name in ("Arial.ttf", "Arial.Unicode.ttf"):
            if font.is_file() and not (settings_dir / name).exists():
                shutil.copyfile(font, settings_dir / name)
    except ImportError:  # no font to offer: only plotting would notice
        pass
    os.environ["YOLO_CONFIG_DIR"] = str(fallback_config_dir)
    return fallback_config_dir


def coco_names() -> dict[int, str]:
    """The 80 COCO class names that the released yolov8n.pt carries, read from ultralytics' dataset yaml."""
    from ultralytics.utils import ROOT, YAML

    return dict(YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"])


def make_yolo(
    out_dir: Path,
    task: str = "detect",
    names: dict[int, str] | None = None,
    filename: str | None = None,
    seed: int = 0,
) -> TinyYolo:
    """Build YOLOv8n for ``task`` from its yaml with ``len(names)`` classes and save it as a .pt."""
    start = time.perf_counter()  # imports included: they are part of what a first build costs
    import torch
    from ultralytics import __version__
    from ultralytics.cfg import DEFAULT_CFG_DICT
    from ultralytics.nn.tasks import DetectionModel, PoseModel, yaml_model_load

    if task not in YAML_BY_TASK:
        raise ValueError(f"task must be one of {sorted(YAML_BY_TASK)}, got {task!r}")
    yaml_name = YAML_BY_TASK[task]
    if names is None:
        names = PERSON_NAMES if task == "pose" else coco_names()
    names = {int(k): str(v) for k, v in names.items()}
    cfg = yaml_model_load(yaml_name)
    torch.manual_seed(seed)
    model_cls = PoseModel if task == "pose" else DetectionModel
    model = model_cls(cfg, nc=len(names), verbose=False)

    # What the trainer attaches before saving (set_model_attributes + final strip_optimizer).
    model.nc = len(names)
    model.names = names
    model.task = task
    train_args = {**DEFAULT_CFG_DICT, "model": yaml_name, "task": task, "imgsz": 640}
    model.args = dict(train_args)
    kpt_shape = None
    if task == "pose":
        # Models built from yaml lack kpt_shape (environment-notes 2d); trained checkpoints carry the
        # dataset's value, so AutoBackend and the pose predictor find it after loading.
        kpt_shape = (int(cfg["kpt_shape"][0]), int(cfg["kpt_shape"][1]))
        model.kpt_shape = list(kpt_shape)
    for p in model.parameters():
        p.requires_grad = False

    checkpoint = {
        "date": datetime.now().astimezone().isoformat(),
        "version": __version__,
        "license": "AGPL-3.0 License (https://ultralytics.com/license)",
        "docs": "https://docs.ultralytics.com",
        "epoch": -1,
        "best_fitness": None,
        "model": deepcopy(model).half(),
        "ema": None,
        "updates": None,
        "optimizer": None,
        "scaler": None,
        "train_args": train_args,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (filename or yaml_name.replace(".yaml", ".pt"))
    torch.save(checkpoint, path)
    return TinyYolo(
        path=path,
        task=task,
        yaml=yaml_name,
        names=names,
        kpt_shape=kpt_shape,
        num_params=sum(p.numel() for p in model.parameters()),
        build_seconds=round(time.perf_counter() - start, 2),
    )
