"""design.md: only lib_garment/host/ and scripts/ may import the WebUI, gradio or the ControlNet extension."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("modules", "gradio", "lib_controlnet", "internal_controlnet", "scripts", "extensions")


def engine_files() -> list[Path]:
    return [p for p in (ROOT / "lib_garment").rglob("*.py") if "host" not in p.relative_to(ROOT).parts]


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in (
                "import_module",
                "__import__",
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            roots.add(str(node.args[0].value).split(".")[0])
    return roots


def test_engine_sources_never_import_the_host() -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(imported_roots(p) & set(FORBIDDEN)) for p in engine_files()}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(offenders) >= 10  # the scan really saw the engine


def test_the_scan_catches_each_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import gradio as gr\nfrom modules import shared\nimport importlib\n"
        "importlib.import_module('lib_controlnet.external_code')\n"
    )
    assert imported_roots(sample) >= {"gradio", "modules", "lib_controlnet"}


def test_importing_the_engine_loads_no_host_module() -> None:
    """At run time too: importing every engine module must not pull gradio or the WebUI in indirectly."""
    names = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in engine_files()]
    names = [n.removesuffix(".__init__") for n in names if not n.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
