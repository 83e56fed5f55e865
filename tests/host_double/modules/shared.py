"""``modules.shared``: ``opts``, ``cmd_opts``, ``state``, ``sd_model``, ``total_tqdm`` (host-contract §10)."""

# Paths stay os.path strings on purpose: the WebUI's own values and helpers are str-based.
# ruff: noqa: PTH118, PTH122

from __future__ import annotations

import os
import sys
from typing import Any, ClassVar

from modules import options, shared_cmd_options, shared_options, shared_state, shared_total_tqdm
from modules.paths_internal import (  # noqa: F401  (re-exported like the real module)
    data_path,
    extensions_builtin_dir,
    extensions_dir,
    models_path,
    script_path,
)

cmd_opts = shared_cmd_options.cmd_opts
parser = shared_cmd_options.parser

OptionInfo = options.OptionInfo
OptionHTML = options.OptionHTML
options_section = options.options_section

config_filename = cmd_opts.ui_settings_file
styles_filename = [os.path.join(data_path, "styles.csv")]

opts: options.Options = options.Options(shared_options.builtin_options(), restricted_opts=set())
opts.load(config_filename)

state = shared_state.State()
total_tqdm = shared_total_tqdm.TotalTQDM()

demo: Any = None
device: Any = None  # the real value is a torch.device; use modules.devices.device
parallel_processing_allowed = True
face_restorers: list = []
sd_upscalers: list = []
hypernetworks: dict = {}
loaded_hypernetworks: list = []
settings_components: dict | None = None
tab_names: list[str] = []
progress_print_out = sys.stdout
hf_endpoint = os.getenv("HF_ENDPOINT", "https://huggingface.co")


class _CheckpointInfo:
    def __init__(self, filename: str, name: str, shorthash: str) -> None:
        self.filename = filename
        self.name = name
        self.name_for_extra = os.path.splitext(name)[0]
        self.shorthash = shorthash
        self.hash = shorthash[:8]
        self.sha256 = shorthash.ljust(64, "0")
        self.title = f"{name} [{shorthash}]"
        self.model_name = self.name_for_extra


class FakeSdModel:
    """Stands in for the loaded checkpoint: identity fields only, no weights."""

    is_sdxl = False
    is_sd1 = True
    is_sd2 = False
    is_sd3 = False
    cond_stage_key = "crossattn"
    latent_channels = 4

    def __init__(self) -> None:
        self.sd_checkpoint_info = _CheckpointInfo(
            os.path.join(models_path, "Stable-diffusion", "fake-sd15.safetensors"),
            "fake-sd15.safetensors",
            "0123456789",
        )
        self.sd_model_hash = self.sd_checkpoint_info.shorthash
        self.sd_model_checkpoint = self.sd_checkpoint_info.filename


sd_model: Any = FakeSdModel()


class _PromptStyles:
    """No styles are defined, so applying styles returns the prompt unchanged."""

    styles: ClassVar[dict] = {}

    def apply_styles_to_prompt(self, prompt: str, styles: list[str]) -> str:
        return prompt

    def apply_negative_styles_to_prompt(self, prompt: str, styles: list[str]) -> str:
        return prompt


prompt_styles = _PromptStyles()


def listfiles(dirname: str) -> list[str]:
    return sorted(os.path.join(dirname, x) for x in os.listdir(dirname) if not x.startswith("."))


def walk_files(path: str, allowed_extensions: list[str] | None = None):
    for root, _dirs, files in os.walk(path):
        for filename in sorted(files):
            if allowed_extensions and os.path.splitext(filename)[1].lower() not in allowed_extensions:
                continue
            yield os.path.join(root, filename)
