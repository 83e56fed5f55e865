"""``modules.shared_cmd_options``: the argument parser, extension ``preload.py`` hooks, parsed flags.

Like the WebUI, every active extension's ``preload(parser)`` runs before the final parse, so extensions can
add their own flags (host-contract §1 "preload.py").
"""

# Paths stay os.path strings on purpose: the WebUI's own values and helpers are str-based.
# A failing preload is reported, not raised.
# ruff: noqa: BLE001, PTH112, PTH113, PTH118

from __future__ import annotations

import argparse
import importlib.util
import os

from modules import _double_boot, errors, paths_internal


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="webui-double")
    # Flags from host-contract §1; defaults are the WebUI's.
    p.add_argument("--data-dir", type=str, default=paths_internal.data_path)
    p.add_argument("--models-dir", type=str, default=None)
    p.add_argument("--api", action="store_true")
    p.add_argument("--nowebui", action="store_true")
    p.add_argument("--api-auth", type=str, default=None)
    p.add_argument("--api-server-stop", action="store_true")
    p.add_argument("--skip-install", action="store_true")
    p.add_argument("--skip-prepare-environment", action="store_true")
    p.add_argument("--skip-torch-cuda-test", action="store_true")
    p.add_argument("--use-cpu", nargs="+", default=[], type=str.lower)
    p.add_argument("--no-half", action="store_true")
    p.add_argument("--no-half-vae", action="store_true")
    p.add_argument("--lowvram", action="store_true")
    p.add_argument("--medvram", action="store_true")
    p.add_argument("--medvram-sdxl", action="store_true")
    p.add_argument("--ckpt", type=str, default=None)
    p.add_argument("--no-download-sd-model", action="store_true")
    p.add_argument("--listen", action="store_true")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--test-server", action="store_true")
    p.add_argument("--disable-all-extensions", action="store_true")
    p.add_argument("--disable-extra-extensions", action="store_true")
    p.add_argument("--freeze-settings", action="store_true")
    p.add_argument("--no-prompt-history", action="store_true")
    p.add_argument("--embeddings-dir", type=str, default=os.path.join(paths_internal.data_path, "embeddings"))
    p.add_argument("--ui-settings-file", type=str, default=os.path.join(paths_internal.data_path, "config.json"))
    p.add_argument("--styles-file", type=str, action="append", default=[])
    p.add_argument("--always-cpu", action="store_true")  # Forge's CPU switch (host-contract §5b)
    return p


def _run_preloads(p: argparse.ArgumentParser) -> None:
    for base in (paths_internal.extensions_builtin_dir, paths_internal.extensions_dir):
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base)):
            preload = os.path.join(base, name, "preload.py")
            if not os.path.isfile(preload):
                continue
            try:
                spec = importlib.util.spec_from_file_location("preload", preload)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                if hasattr(module, "preload"):
                    module.preload(p)
            except Exception:
                errors.report(f"Error running preload() for {preload}", exc_info=True)


parser = _build_parser()
_run_preloads(parser)
cmd_opts = parser.parse_args(_double_boot.cmd_args())
if cmd_opts.models_dir is None:
    cmd_opts.models_dir = paths_internal.models_path
