"""``WebUIDouble``: one fake WebUI (AUTOMATIC1111 1.10.1 or Forge) in a temporary root, for one test.

Life cycle::

    host = WebUIDouble(tmp_path / "webui", flavour="a1111").start()   # fake `modules` now importable
    host.write_extension("my-ext", {"scripts/my_ext.py": SOURCE})
    host.install_controlnet()                      # Mikubill for "a1111", lib_controlnet for "forge"
    host.set_options(control_net_unit_count=2)
    client = host.client()                         # load scripts, build UI, API, app_started(demo, app)
    ...
    host.close()                                   # sys.modules / sys.path back as they were

``start()`` installs the fake ``modules`` (and, for Forge, ``modules_forge``) packages as top-level packages
and puts the WebUI root first on ``sys.path``, as launching from the WebUI dir does. ``close()`` removes
every module imported from the fake packages or from inside the root (extension packages included) and
restores ``sys.path``, so tests stay isolated.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import importlib.util
import io
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.host_double import lazy_gradio_apps

FLAVOURS = ("a1111", "forge")
CONTROLNET_KINDS = ("mikubill", "legacy", "forge")
DEFAULT_CN_MODELS = ("control_v11p_sd15_canny", "control_v11p_sd15_openpose", "control_v11f1p_sd15_depth")

_HERE = Path(__file__).resolve().parent
_FAKE_PACKAGES = {"modules": _HERE / "modules", "modules_forge": _HERE / "modules_forge"}
_CN_TEMPLATES = _HERE / "controlnet"
_FAKE_PREFIXES = tuple(_FAKE_PACKAGES)


def _is_fake_module_name(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in _FAKE_PREFIXES)


def _module_paths(module: ModuleType) -> list[str]:
    paths = []
    file = getattr(module, "__file__", None)
    if file:
        paths.append(str(file))
    with contextlib.suppress(TypeError, KeyError):  # odd or orphaned namespace paths
        paths += [str(p) for p in getattr(module, "__path__", []) or []]
    return paths


class WebUIDouble:
    """A fake WebUI root plus the fake host modules; see the module docstring."""

    def __init__(self, root: Path, flavour: str = "a1111", cmd_args: Sequence[str] = ()) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
        self.root = Path(root).resolve()
        self.flavour = flavour
        self.cmd_args = list(cmd_args)
        self.app: Any = None
        self.demo: Any = None
        self.api: Any = None
        self._started = False
        self._scripts_loaded = False
        self._saved_modules: dict[str, ModuleType] = {}
        self._modules_before: set[str] = set()
        self._sys_path_object: list[str] | None = None
        self._sys_path_copy: list[str] = []
        for sub in (
            "models/Stable-diffusion",
            "models/ControlNet",
            "extensions",
            "extensions-builtin",
            "scripts",
            "outputs",
            "embeddings",
        ):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # ----- life cycle ---------------------------------------------------------------------------------
    @property
    def is_forge(self) -> bool:
        return self.flavour == "forge"

    def start(self) -> WebUIDouble:
        if self._started:
            return self
        for name in [n for n in sys.modules if _is_fake_module_name(n)]:
            self._saved_modules[name] = sys.modules.pop(name)
        self._modules_before = set(sys.modules)
        self._sys_path_object = sys.path
        self._sys_path_copy = list(sys.path)
        sys.path.insert(0, str(self.root))
        self._started = True
        lazy_gradio_apps.install()
        try:
            self._install_package("modules")
            if self.is_forge:
                self._install_package("modules_forge")
            boot = importlib.import_module("modules._double_boot")
            boot.configure(self.root, self.flavour, self.cmd_args, self.root / ".host_double")
            for name in (
                "shared",
                "paths",
                "errors",
                "script_callbacks",
                "extensions",
                "scripts",
                "processing",
                "images",
                "devices",
                "call_queue",
                "ui_components",
                "api.api",
                "ui",
                "txt2img",
                "img2img",
            ):
                importlib.import_module(f"modules.{name}")
        except BaseException:
            self.close()
            raise
        return self

    def _install_package(self, name: str) -> None:
        path = _FAKE_PACKAGES[name]
        spec = importlib.util.spec_from_file_location(
            name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)

    def close(self) -> None:
        if not self._started:
            return
        root = str(self.root)
        fake_dirs = tuple(str(p) for p in _FAKE_PACKAGES.values())
        # Decide first, delete after: a namespace package's __path__ is recomputed through its parent.
        doomed = [
            name
            for name, module in list(sys.modules.items())
            if _is_fake_module_name(name)
            or (
                name not in self._modules_before
                and module is not None
                and any(p.startswith((root, *fake_dirs)) for p in _module_paths(module))
            )
        ]
        for name in doomed:
            sys.modules.pop(name, None)
        sys.modules.update(self._saved_modules)
        for key in [k for k in sys.path_importer_cache if str(k).startswith(root)]:
            del sys.path_importer_cache[key]
        # Loading scripts may rebind sys.path to a new list (Forge does, for good): restore object and content.
        sys.path = self._sys_path_object
        sys.path[:] = self._sys_path_copy
        importlib.invalidate_caches()
        self._started = False

    def __enter__(self) -> WebUIDouble:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ----- fake host modules --------------------------------------------------------------------------
    def module(self, name: str) -> ModuleType:
        """``host.module("processing")`` is ``modules.processing``."""
        return importlib.import_module(f"modules.{name}")

    @property
    def shared(self) -> ModuleType:
        return self.module("shared")

    @property
    def opts(self) -> Any:
        return self.shared.opts

    @property
    def scripts(self) -> ModuleType:
        return self.module("scripts")

    @property
    def processing(self) -> ModuleType:
        return self.module("processing")

    @property
    def script_callbacks(self) -> ModuleType:
        return self.module("script_callbacks")

    @property
    def errors(self) -> ModuleType:
        return self.module("errors")

    @property
    def reported_errors(self) -> list:
        """Every ``errors.report``/``display`` since start (``.message``, ``.exception``, ``.traceback``)."""
        return self.errors.reported

    @property
    def error_messages(self) -> list[str]:
        """The messages of :attr:`reported_errors`, e.g. ``"Error running process: <file>"``."""
        return [r.message for r in self.errors.reported]

    # ----- files --------------------------------------------------------------------------------------
    def extension_dir(self, name: str, *, builtin: bool = False) -> Path:
        return self.root / ("extensions-builtin" if builtin else "extensions") / name

    def write_extension(self, name: str, files: Mapping[str, str | bytes], *, builtin: bool = False) -> Path:
        """Create ``extensions/<name>/`` from ``{relative path: text or bytes}``."""
        ext = self.extension_dir(name, builtin=builtin)
        for rel, content in files.items():
            target = ext / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf8")
        ext.mkdir(parents=True, exist_ok=True)
        return ext

    def with_garment_studio(self, cn_models: Sequence[str] | None = DEFAULT_CN_MODELS) -> WebUIDouble:
        """This repository installed as the extension ``garment-studio``, next to ControlNet with ``cn_models``
        (None: no ControlNet), scripts loaded: the setup of every test of the extension in a WebUI."""
        if cn_models is not None:
            self.install_controlnet(models=cn_models)
        self.install_extension(_HERE.parents[1], "garment-studio")
        self.load_scripts()
        return self

    def install_extension(
        self, source: Path, name: str | None = None, *, builtin: bool = False, link: bool = False
    ) -> Path:
        """Copy (or symlink) an extension directory into the root, like ``git clone`` into ``extensions/``."""
        source = Path(source).resolve()
        target = self.extension_dir(name or source.name, builtin=builtin)
        if link:
            target.symlink_to(source, target_is_directory=True)
        else:
            # Like a fresh clone: no VCS data or caches anywhere, no downloaded weights or outputs at the top.
            caches = shutil.ignore_patterns(
                "__pycache__", "*.pyc", ".git", ".pytest_cache", ".ruff_cache", ".hypothesis"
            )

            def ignore(directory: str, names: list[str]) -> set[str]:
                skipped = set(caches(directory, names))
                if Path(directory) == source:
                    # mutants/: the copy mutmut (tools/mutation.sh) makes of the tree. The developer folders
                    # (tests, bench, tools, docs) are never loaded by a WebUI, and every test that starts a
                    # double copies the extension: leaving them out halves that copy.
                    skipped |= {"models", "outputs", ".worker_packages", "mutants"} & set(names)
                    skipped |= {"tests", "bench", "tools", "docs"} & set(names)
                return skipped

            shutil.copytree(source, target, ignore=ignore)
        return target

    def install_controlnet(
        self, kind: str | None = None, *, models: Sequence[str] = DEFAULT_CN_MODELS, dir_name: str | None = None
    ) -> Path:
        """Install a fake ControlNet: "mikubill" (sd-webui-controlnet 1.1.455, the A1111 default), "legacy"
        (≤ 1.1.447 dataclass unit) or "forge" (built-in ``lib_controlnet``, the Forge default). ``models`` are
        written as small files under ``models/ControlNet``."""
        kind = kind or ("forge" if self.is_forge else "mikubill")
        if kind not in CONTROLNET_KINDS:
            raise ValueError(f"kind must be one of {CONTROLNET_KINDS}, not {kind!r}")
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        if kind == "forge":
            target = self.extension_dir(dir_name or "sd_forge_controlnet", builtin=True)
            shutil.copytree(_CN_TEMPLATES / "sd_forge_controlnet", target, ignore=ignore)
        else:
            target = self.extension_dir(dir_name or "sd-webui-controlnet")
            shutil.copytree(_CN_TEMPLATES / "sd-webui-controlnet", target, ignore=ignore)
            flavour = "legacy" if kind == "legacy" else "pydantic"
            (target / "internal_controlnet" / "_flavour.py").write_text(
                f'UNIT_FLAVOUR = "{flavour}"\n', encoding="utf8"
            )
        for name in models:
            (self.root / "models" / "ControlNet" / f"{name}.safetensors").write_bytes(
                f"fake weights of {name}".encode()
            )
        return target

    def controlnet_model_titles(self) -> list[str]:
        """``"<name> [<hash>]"`` for every file in ``models/ControlNet``, as the fake ControlNets list them."""
        sd_models = self.module("sd_models")
        folder = self.root / "models" / "ControlNet"
        return [f"{p.stem} [{sd_models.model_hash(str(p))}]" for p in sorted(folder.iterdir()) if p.is_file()]

    # ----- settings -----------------------------------------------------------------------------------
    def set_options(self, **values: Any) -> None:
        """Write options as ``config.json`` would: registered or not (e.g. ``control_net_unit_count``)."""
        for key, value in values.items():
            self.shared.opts.data[key] = value

    def parse_cmd_args(self, args: Sequence[str]) -> Any:
        """Re-run the extensions' ``preload(parser)`` and parse ``args`` into ``shared.cmd_opts`` in place."""
        scmd = self.module("shared_cmd_options")
        parser = scmd._build_parser()
        scmd._run_preloads(parser)
        parsed = parser.parse_args(list(args))
        if parsed.models_dir is None:
            parsed.models_dir = str(self.root / "models")
        vars(self.shared.cmd_opts).clear()
        vars(self.shared.cmd_opts).update(vars(parsed))
        return self.shared.cmd_opts

    # ----- WebUI start-up steps -----------------------------------------------------------------------
    def load_scripts(self) -> None:
        """List extensions and import every ``scripts/*.py`` (clears registered callbacks first)."""
        self.module("extensions").list_extensions()
        self.scripts.load_scripts()
        self._scripts_loaded = True

    def create_ui(self) -> Any:
        """Settings callbacks, both runners' script UIs, extension tabs; returns the demo ``gr.Blocks``."""
        if not self._scripts_loaded:
            self.load_scripts()
        self.demo = self.module("ui").create_ui()
        return self.demo

    def create_api(self) -> Any:
        from fastapi import FastAPI

        if not self._scripts_loaded:
            self.load_scripts()
        app = FastAPI()
        self.api = self.module("api.api").Api(app, self.module("call_queue").queue_lock)
        return app

    def launch(self, *, nowebui: bool = False) -> Any:
        """The WebUI start-up order: load scripts, ``before_ui``, UI (skipped under ``--nowebui``), API,
        then ``app_started(demo, app)`` with ``demo=None`` under ``--nowebui``. Returns the FastAPI app."""
        cmd_opts = self.shared.cmd_opts
        cmd_opts.api = True
        cmd_opts.nowebui = nowebui
        if not self._scripts_loaded:
            self.load_scripts()
        self.script_callbacks.before_ui_callback()
        self.demo = None if nowebui else self.create_ui()
        self.app = self.create_api()
        self.script_callbacks.app_started_callback(self.demo, self.app)
        return self.app

    def run_ui_tabs(self) -> list:
        """Call the ``on_ui_tabs`` callbacks alone; returns their ``(blocks, title, elem_id)`` tuples."""
        if not self._scripts_loaded:
            self.load_scripts()
        return self.script_callbacks.ui_tabs_callback()

    def run_app_started(self, app: Any = None, demo: Any = None) -> Any:
        """Call the ``on_app_started`` callbacks alone with ``(demo, app)`` (a fresh FastAPI app by default)."""
        from fastapi import FastAPI

        if not self._scripts_loaded:
            self.load_scripts()
        app = app if app is not None else FastAPI()
        self.script_callbacks.app_started_callback(demo, app)
        return app

    def client(self, *, nowebui: bool = False, **kwargs: Any) -> Any:
        """A ``fastapi.testclient.TestClient`` on the launched app (launching first if needed)."""
        from fastapi.testclient import TestClient

        if self.app is None:
            self.launch(nowebui=nowebui)
        return TestClient(self.app, **kwargs)

    # ----- runners and the UI generate path -----------------------------------------------------------
    def runner(self, tab: str = "txt2img") -> Any:
        if tab not in ("txt2img", "img2img"):
            raise ValueError(f"tab must be txt2img or img2img, not {tab!r}")
        return getattr(self.scripts, f"scripts_{tab}")

    @property
    def txt2img_runner(self) -> Any:
        return self.runner("txt2img")

    @property
    def img2img_runner(self) -> Any:
        return self.runner("img2img")

    def find_script(self, title: str, tab: str = "txt2img") -> Any:
        """The script instance on ``tab`` whose ``title().lower()`` matches, or ``None``."""
        for script in self.runner(tab).scripts:
            if script.title().lower() == title.lower():
                return script
        return None

    def _ensure_ui(self, tab: str) -> Any:
        if self.shared.demo is None:  # set by modules.ui.create_ui (also when the API built the UI)
            self.create_ui()
        return self.runner(tab)

    def ui_script_args(
        self, tab: str = "txt2img", values: Mapping[str, Sequence[Any]] | None = None, selected: str | None = None
    ) -> tuple:
        """The tuple the UI passes as ``p.script_args``: slot 0 the dropdown index (``selected`` title or 0),
        then every component's ``.value``; ``values`` overlays ``{title: [v0, v1, …]}`` positionally."""
        runner = self._ensure_ui(tab)
        args = [getattr(c, "value", None) for c in runner.inputs]
        args[0] = 0
        if selected is not None:
            titles = [s.title().lower() for s in runner.selectable_scripts]
            args[0] = titles.index(selected.lower()) + 1
        for title, overlay in (values or {}).items():
            script = self.find_script(title, tab)
            if script is None or script.args_from is None:
                raise KeyError(f"no script titled {title!r} with UI slots on {tab}")
            for i, value in enumerate(list(overlay)[: script.args_to - script.args_from]):
                args[script.args_from + i] = value
        return tuple(args)

    def txt2img(
        self,
        *,
        values: Mapping[str, Sequence[Any]] | None = None,
        selected: str | None = None,
        script_args: tuple | None = None,
        **p_kwargs: Any,
    ) -> Any:
        """Press "Generate" on txt2img: ``p_kwargs`` are constructor fields (prompt, seed, width, …)."""
        args = script_args if script_args is not None else self.ui_script_args("txt2img", values, selected)
        return self.module("txt2img").txt2img(args, **p_kwargs)

    def img2img(
        self,
        *,
        values: Mapping[str, Sequence[Any]] | None = None,
        selected: str | None = None,
        script_args: tuple | None = None,
        **p_kwargs: Any,
    ) -> Any:
        """Press "Generate" on img2img/inpaint: pass ``init_images=[…]``, ``mask=…`` and friends."""
        args = script_args if script_args is not None else self.ui_script_args("img2img", values, selected)
        return self.module("img2img").img2img(args, **p_kwargs)

    def paste(self, tab: str, text: str) -> dict[Any, Any]:
        """Type ``text`` into ``tab``'s prompt and press its paste button: the paste function the WebUI wires
        (``infotext_utils.connect_paste``), its outputs applied as gradio applies them — a ``gr.State`` takes a
        plain value but ignores an update, any other component takes an update's ``value`` or a plain value.
        Returns ``{component: new value}`` for the components that change."""
        self._ensure_ui(tab)
        infotext_utils = self.module("infotext_utils")
        binding = next(
            b
            for b in infotext_utils.registered_param_bindings
            if b.tabname == tab
            and b.source_text_component is not None
            and b.source_text_component.elem_id == f"{tab}_prompt"
        )
        paste_func, outputs = binding.paste_button.host_double_paste
        changed: dict[Any, Any] = {}
        for component, value in zip(outputs, paste_func(text), strict=True):
            is_update = isinstance(value, dict) and "update" in str(value.get("__type__", ""))
            if type(component).__name__ == "State":
                if not is_update:
                    changed[component] = value
            elif is_update:
                if "value" in value:
                    changed[component] = value["value"]
            else:
                changed[component] = value
        return changed

    def controlnet_script(self, tab: str = "txt2img") -> Any:
        return self.find_script("controlnet", tab)

    # ----- codecs -------------------------------------------------------------------------------------
    @staticmethod
    def b64(image: Any, *, data_url: bool = False) -> str:
        """PNG base64 of a PIL image or uint8 array (optionally as a data URL)."""
        import numpy as np
        from PIL import Image

        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        with io.BytesIO() as buffer:
            image.save(buffer, format="PNG")
            text = base64.b64encode(buffer.getvalue()).decode("ascii")
        return f"data:image/png;base64,{text}" if data_url else text

    @staticmethod
    def decode(b64: str) -> Any:
        from PIL import Image

        return Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB")
