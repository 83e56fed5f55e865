"""The models a request's ``restore`` options ask for, made once per job: detectors, skin model, matting model.

Shared by every host (the WebUI's nested passes, the standalone route and tab action, the CLI's client mode),
so each honours the same options the same way:

- **detectors** (:func:`~.options.detector_plan`): YOLO files are made with ultralytics' own cut at
  ``min(0.25, confidence)``, so a restore ``confidence`` below ultralytics' default 0.25 is honoured (the finer
  cut is the filter's). A detector that cannot be had is a note (``strict=False``: the others still run) or an
  error (``strict=True``);
- **skin model** (``skin_model: fcn``): the FCN-ResNet101 state dict named by ``skin_model_path``, cleared by the
  trust rules now; any problem is an error (a chosen model never silently becomes the colour rules);
- **matting model** (``matte: model``): ViTMatte, found (or fetched) as segmentation finds it
  (:func:`lib_garment.segment.backends.assemble.build_backends`). When it cannot be had, ``matte`` becomes
  ``classic`` and a note says why; the note travels into the result's line, so the fallback is never silent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib_garment.errors import ModelUnavailable
from lib_garment.models.settings import ModelSettings
from lib_garment.restore.detect import PartDetector
from lib_garment.restore.detectors.choose import make_detector
from lib_garment.restore.detectors.yolo import DEFAULT_YOLO_PARAMS, YoloParams
from lib_garment.restore.options import detector_plan, skin_model_file
from lib_garment.restore.skin import SkinMatteMethod, SkinModel
from lib_garment.segment.pipeline import MatteModel


@dataclass
class RestoreModels:
    """What one job restores with. ``matte``: the method actually used (``classic`` when ViTMatte is wanted but
    cannot be had); ``notes``: every detector left out and every fallback, for the result's line."""

    detectors: list[PartDetector]
    skin_model: SkinModel | None = None
    matte_model: MatteModel | None = None
    matte: SkinMatteMethod = "classic"
    notes: list[str] = field(default_factory=list)


def yolo_params(confidence: float) -> YoloParams:
    """ultralytics' cut for a restore ``confidence``: its default 0.25, or lower when the user asks for less."""
    return YoloParams(conf=min(DEFAULT_YOLO_PARAMS.conf, float(confidence)))


def make_detectors(
    options: Any, env: ModelSettings, *, extra_folders: Iterable[Path] = (), strict: bool = False
) -> tuple[list[PartDetector], list[str]]:
    """The detectors the options ask for, and a note for each that cannot be had (``strict``: an error)."""
    detectors, notes = [], []
    for choice in detector_plan(options):
        try:
            detectors.append(
                make_detector(
                    choice.name,
                    env.models_root,
                    kind=choice.kind,
                    device=env.device,
                    params=yolo_params(options.confidence),
                    min_confidence=float(options.confidence),
                    offline=env.offline,
                    progress=env.progress,
                    trust_unverified=env.trust_unverified,
                    extra_folders=tuple(extra_folders),
                )
            )
        except ModelUnavailable as err:  # noqa: PERF203 - each missing detector is named
            if strict:
                raise
            notes.append(f"{choice.field} {choice.name} unavailable: {err}")
    return detectors, notes


def make_skin_model(options: Any, env: ModelSettings) -> SkinModel | None:
    """The FCN skin model when ``skin_model`` is ``fcn`` (else None: the colour rules)."""
    if getattr(options, "skin_model", "colour") != "fcn":
        return None
    from lib_garment.restore.skin_model import skin_model_from_file

    path = skin_model_file(options.skin_model_path, Path(env.models_root))
    return skin_model_from_file(
        path, env.models_root, device=env.device, trust_unverified=env.trust_unverified, progress=env.progress
    )


def make_matte_model(options: Any, env: ModelSettings, specs: tuple[Any, ...] = ()) -> tuple[MatteModel | None, str]:
    """ViTMatte for ``matte: model`` (None and the reason when it cannot be had); ``specs``: registry entries
    replaced by name (tests' tiny models)."""
    from lib_garment.request import SegmentOptions
    from lib_garment.segment.backends.assemble import ModelChoice, build_backends

    backends = build_backends(
        SegmentOptions(matte="vitmatte"),
        env.models_root,
        device=env.device,
        offline=env.offline,
        progress=env.progress,
        from_mask=True,  # only the matting model: no detector, no SAM
        choice=ModelChoice(
            trust_unverified=env.trust_unverified,
            runtime_policy=env.runtime_policy,  # type: ignore[arg-type]
            specs=tuple(specs),
        ),
    )
    if backends.matte is not None:
        return backends.matte, ""
    why = "; ".join(backends.notes) or "ViTMatte is not available; the classic matte is used instead"
    return None, f"restore matte: {why}"


def build_restore_models(
    options: Any,
    env: ModelSettings,
    *,
    extra_folders: Iterable[Path] = (),
    strict_detectors: bool = False,
    specs: tuple[Any, ...] = (),
) -> RestoreModels:
    """Every model the options ask for (see the module docstring); nothing runs yet."""
    detectors, notes = make_detectors(options, env, extra_folders=extra_folders, strict=strict_detectors)
    skin_model = make_skin_model(options, env)
    matte: SkinMatteMethod = options.matte
    matte_model = None
    if matte == "model":
        matte_model, note = make_matte_model(options, env, specs)
        if matte_model is None:
            matte = "classic"
            notes.append(note)
    return RestoreModels(detectors, skin_model, matte_model, matte, notes)
