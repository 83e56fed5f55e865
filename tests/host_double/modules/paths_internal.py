"""Paths of the fake WebUI: everything lives in the per-test WebUI root (host-contract §1 "Models")."""

# Paths stay os.path strings on purpose: the WebUI's own values and helpers are str-based.
# ruff: noqa: PTH118, PTH120

from __future__ import annotations

import os

from modules import _double_boot

modules_path = os.path.dirname(os.path.realpath(__file__))
script_path = str(_double_boot.root())
data_path = script_path  # --data-dir is not modelled: the data dir is the WebUI root, as without the flag
models_path = os.path.join(data_path, "models")
extensions_dir = os.path.join(data_path, "extensions")
extensions_builtin_dir = os.path.join(script_path, "extensions-builtin")
config_states_dir = os.path.join(script_path, "config_states")
default_output_dir = os.path.join(data_path, "outputs")
sd_configs_path = os.path.join(script_path, "configs")
sd_default_config = os.path.join(sd_configs_path, "v1-inference.yaml")
sd_model_file = os.path.join(script_path, "model.ckpt")
default_sd_model_file = sd_model_file
