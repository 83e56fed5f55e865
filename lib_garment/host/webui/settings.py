"""Garment Studio's section of the WebUI's Settings page, and reading it back.

Registered from ``script_callbacks.on_ui_settings`` (host-contract §1 "Settings"); values persist in the
WebUI's ``config.json`` and API clients can read and set them through ``/sdapi/v1/options``. Every read goes
through ``shared.opts.data.get(key, default)``: a generation or a tab may run before the settings callback
did (API-only start, an extension that failed before us), and an odd value written by hand into config.json
falls back to the default rather than breaking a job.

The engine knows none of this: :class:`HostSettings` turns the values into the arguments the engine already
takes (``models_root``, ``offline``, ``trust_unverified``, ``runtime_policy``). Where a setting is at its
default the argument is None, so the environment variables the engine honours (``GARMENT_OFFLINE``,
``GARMENT_TRUST_UNVERIFIED``, ``GARMENT_MODEL_RUNTIME``) still decide, as they do on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from modules import paths, shared

from lib_garment.models.settings import ModelSettings
from lib_garment.paths import models_root as resolve_models_root
from lib_garment.runtime.selection import POLICIES, Policy

SECTION = ("garment_studio", "Garment Studio")

MODELS_DIR = "garment_studio_models_dir"
OFFLINE = "garment_studio_offline"
RUNTIME_POLICY = "garment_studio_model_runtime"
OFFLOAD_BEFORE_GENERATION = "garment_studio_offload_before_generation"
TRUST_UNVERIFIED = "garment_studio_trust_unverified"
CATALOGUE_ROOT = "garment_studio_catalogue_root"
CATALOGUE_SUBFOLDER = ("garment_studio", "catalogues")  # under the WebUI's outputs folder, by default


@dataclass(frozen=True)
class Setting:
    """One option: its key, default, label and the widget the Settings page draws for it."""

    key: str
    default: Any
    label: str
    info: str = ""
    choices: tuple[str, ...] = ()  # a radio when given, else a textbox (str) or checkbox (bool)
    restrict_api: bool = False  # True: /sdapi/v1/options cannot change it (the WebUI refuses API writes)

    def option_info(self) -> Any:
        component: Any
        component_args: dict[str, Any] | None = None
        if self.choices:
            component, component_args = gr.Radio, {"choices": list(self.choices)}
        elif isinstance(self.default, bool):
            component = gr.Checkbox
        else:
            component = gr.Textbox
        info = shared.OptionInfo(
            self.default,
            self.label,
            component=component,
            component_args=component_args,
            section=SECTION,
            restrict_api=self.restrict_api,
        )
        return info.info(self.info) if self.info else info


SETTINGS: tuple[Setting, ...] = (
    Setting(
        MODELS_DIR,
        "",
        "Models folder (empty: the WebUI's models folder)",
        "model files go to <this folder>/garment_studio/<kind>; files of other extensions are found here too",
    ),
    Setting(OFFLINE, False, "Offline mode: use only model files already on disk, never download"),
    Setting(
        RUNTIME_POLICY,
        "auto",
        "Where models run",
        "auto: in the WebUI's process when its packages suffice, else in Garment Studio's model worker; "
        "worker: always in the worker (crash isolation, all its GPU memory freed when it stops); "
        "in-process: never start the worker",
        choices=POLICIES,
    ),
    Setting(
        OFFLOAD_BEFORE_GENERATION,
        True,
        "Free Garment Studio's GPU memory before each generation (move its models to the CPU)",
        "leave on for cards with 12 GB or less",
    ),
    Setting(
        TRUST_UNVERIFIED,
        False,
        "Trust unverified pickle files (.pth/.pt whose SHA-256 Garment Studio cannot check). "
        "WARNING: loading a pickle file can run any code it contains; enable only for files from sources you trust",
    ),
    Setting(
        CATALOGUE_ROOT,
        "",
        "Catalogue folder (empty: outputs/garment_studio/catalogues)",
        "every manifest, photo folder and output folder named in the tab or over the API must lie inside it "
        "(symlinks followed): callers cannot read or write other files on the server",
        # An API caller who could move the fence could read and write anywhere: only the Settings page sets it.
        restrict_api=True,
    ),
)
DEFAULTS: dict[str, Any] = {setting.key: setting.default for setting in SETTINGS}


def register_settings() -> None:
    """Add the section to the Settings page (the ``on_ui_settings`` callback)."""
    for setting in SETTINGS:
        shared.opts.add_option(setting.key, setting.option_info())


@dataclass(frozen=True)
class HostSettings:
    """The settings as read at one moment (read them again per job: users change them while the WebUI runs)."""

    models_dir: str = ""
    offline: bool = False
    runtime_policy: Policy = "auto"
    offload_before_generation: bool = True
    trust_unverified: bool = False
    catalogue_dir: str = ""

    def catalogue_root(self) -> Path:
        """The folder every catalogue path must lie in: the setting, else ``<outputs>/garment_studio/catalogues``
        (the WebUI's outputs folder: ``--data-dir``'s ``outputs``), resolved with its links followed."""
        chosen = self.catalogue_dir.strip()
        if chosen:
            return Path(chosen).expanduser().resolve()
        outputs = getattr(paths, "default_output_dir", None) or str(Path(paths.data_path) / "outputs")
        return Path(outputs, *CATALOGUE_SUBFOLDER).resolve()

    def models_root(self) -> Path:
        """The models folder: the override when set, else the WebUI's (``--models-dir`` included)."""
        return resolve_models_root(self.models_dir.strip() or paths.models_path)

    @property
    def offline_arg(self) -> bool | None:
        """For ``ensure_model``/``build_backends``: True forces offline; None lets GARMENT_OFFLINE decide."""
        return True if self.offline else None

    @property
    def trust_arg(self) -> bool | None:
        """For ``ModelChoice.trust_unverified``: True trusts; None lets GARMENT_TRUST_UNVERIFIED decide."""
        return True if self.trust_unverified else None

    @property
    def policy_arg(self) -> Policy | None:
        """For ``ModelChoice.runtime_policy``: None at "auto", so GARMENT_MODEL_RUNTIME still applies."""
        return None if self.runtime_policy == "auto" else self.runtime_policy


def _flag(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.strip().lower() in ("1", "true", "yes", "on")  # config.json edited by hand
    return default


def current_settings(data: dict[str, Any] | None = None) -> HostSettings:
    """The settings from ``shared.opts.data`` (or ``data``), each falling back to its default."""
    values = shared.opts.data if data is None else data
    folder = values.get(MODELS_DIR, DEFAULTS[MODELS_DIR])
    catalogue = values.get(CATALOGUE_ROOT, DEFAULTS[CATALOGUE_ROOT])
    policy = str(values.get(RUNTIME_POLICY, DEFAULTS[RUNTIME_POLICY]) or "").strip().lower()
    return HostSettings(
        models_dir=folder if isinstance(folder, str) else "",
        offline=_flag(values.get(OFFLINE), DEFAULTS[OFFLINE]),
        runtime_policy=policy if policy in POLICIES else "auto",  # type: ignore[arg-type]
        offload_before_generation=_flag(values.get(OFFLOAD_BEFORE_GENERATION), DEFAULTS[OFFLOAD_BEFORE_GENERATION]),
        trust_unverified=_flag(values.get(TRUST_UNVERIFIED), DEFAULTS[TRUST_UNVERIFIED]),
        catalogue_dir=catalogue if isinstance(catalogue, str) else "",
    )


def model_settings(progress: Any = None) -> ModelSettings:
    """The Settings page as the engine's model settings (read per job), with ``progress`` for downloads."""
    settings = current_settings()
    return ModelSettings(
        models_root=settings.models_root(),
        device=None,
        offline=settings.offline_arg,
        trust_unverified=settings.trust_arg,
        runtime_policy=settings.policy_arg,
        progress=progress,
    )
