"""``modules.ui_components``: ``InputAccordion``, ``FormRow``, ``ToolButton``… as thin gradio subclasses."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from modules import _double_boot


def _load_components():
    # Load a copy from the WebUI root so gradio 4's .pyi side files land there, not in the repository.
    source = Path(__file__).with_name("_gradio_components.py")
    target_dir = _double_boot.components_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "ui_components_impl.py"
    shutil.copyfile(source, target)
    name = "modules._gradio_components"
    spec = importlib.util.spec_from_file_location(name, target)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_impl = _load_components()

FormComponent = _impl.FormComponent
ToolButton = _impl.ToolButton
FormRow = _impl.FormRow
FormColumn = _impl.FormColumn
FormGroup = _impl.FormGroup
FormHTML = _impl.FormHTML
InputAccordion = _impl.InputAccordion
