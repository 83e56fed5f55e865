"""The "Garment Studio" settings section, the offload before each generation, the worker stopped on Reload UI
and the tab's unload button, in the host double (AUTOMATIC1111 1.10.1 and Forge flavours).

The extension is installed as a copy and imported by the double's script loader, so the engine modules under
test (and their resident-model cache) are the copy's: tests reach them through ``sys.modules`` after loading.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT_NAME = "garment-studio"
TXT2IMG = {"prompt": "a shirt", "steps": 2, "width": 64, "height": 64, "seed": 1}
KEYS = {
    "garment_studio_models_dir": "",
    "garment_studio_offline": False,
    "garment_studio_model_runtime": "auto",
    "garment_studio_offload_before_generation": True,
    "garment_studio_trust_unverified": False,
    "garment_studio_catalogue_root": "",
}


@pytest.fixture
def host(any_webui, fresh_engine_modules):
    any_webui.install_extension(ROOT, EXT_NAME)
    any_webui.load_scripts()
    return any_webui


def engine(name: str) -> ModuleType:
    """The installed copy's module (loaded by the double's script loader)."""
    module = importlib.import_module(name)
    assert "extensions" in Path(module.__file__).parts, f"{name} is not the installed copy"
    return module


class FakeModel:
    """A resident "model" on the GPU whose moves are recorded (the cache's ``move`` hook)."""

    def __init__(self) -> None:
        self.moves: list[str] = []

    def move(self, value: Any, device: str) -> None:
        self.moves.append(device)


def resident_fake(key: str = "fake-gpu-model") -> FakeModel:
    runtime = engine("lib_garment.runtime")
    runtime.in_process_runtime()  # offload_all visits only runtimes that exist
    fake = FakeModel()
    runtime.cached_model(key, lambda: fake, device="cuda:0", move=fake.move)
    return fake


def event_handlers(blocks: Any) -> list[tuple[Any, int]]:
    """(function, number of outputs) of every event in ``blocks``: gradio 3 keeps them in two parallel
    lists, gradio 4 in one dict of BlockFunction objects."""
    if isinstance(blocks.fns, dict):
        return [(f.fn, len(f.outputs)) for f in blocks.fns.values()]
    return [(f.fn, len(d["outputs"])) for f, d in zip(blocks.fns, blocks.dependencies, strict=True)]


# -- the settings section ----------------------------------------------------------------------------------


def test_the_section_is_registered_with_its_keys_and_defaults(host) -> None:
    host.create_ui()  # runs the on_ui_settings callbacks
    labels = host.opts.data_labels
    ours = {key: info for key, info in labels.items() if key.startswith("garment_studio_")}
    assert set(ours) == set(KEYS)
    for key, default in KEYS.items():
        assert ours[key].default == default, key
        assert ours[key].section == ("garment_studio", "Garment Studio")
        assert host.opts.data[key] == default  # a fresh config.json gets the defaults
    assert ours["garment_studio_model_runtime"].component_args == {"choices": ["auto", "in-process", "worker"]}
    assert "WARNING" in ours["garment_studio_trust_unverified"].label
    assert "run any code" in ours["garment_studio_trust_unverified"].label
    assert ours["garment_studio_catalogue_root"].restrict_api  # the fence is not movable over the API
    assert not ours["garment_studio_models_dir"].restrict_api


def test_settings_read_safely_before_registration_and_from_odd_values(host) -> None:
    settings = engine("lib_garment.host.webui.settings")
    # No create_ui yet: the callback has not run, and every value is its default.
    assert "garment_studio_offline" not in host.opts.data
    read = settings.current_settings()
    assert read == settings.HostSettings()
    assert read.models_root() == Path(host.shared.models_path).resolve()
    assert (read.offline_arg, read.trust_arg, read.policy_arg) == (None, None, None)  # the environment decides
    host.set_options(
        garment_studio_models_dir=str(host.root / "my-models"),
        garment_studio_offline=True,
        garment_studio_model_runtime="worker",
        garment_studio_offload_before_generation="false",  # config.json edited by hand
        garment_studio_trust_unverified=True,
    )
    read = settings.current_settings()
    assert read.models_root() == (host.root / "my-models").resolve()
    assert (read.offline_arg, read.trust_arg, read.policy_arg) == (True, True, "worker")
    assert read.offload_before_generation is False
    host.set_options(garment_studio_model_runtime="gpu please", garment_studio_offline=3, garment_studio_models_dir=7)
    read = settings.current_settings()
    assert (read.runtime_policy, read.offline, read.models_dir) == ("auto", False, "")


# -- offload before each generation -------------------------------------------------------------------------


def test_before_process_offloads_resident_models_only_when_the_setting_is_on(host) -> None:
    fake = resident_fake()
    runtime = engine("lib_garment.runtime")
    host.txt2img(**TXT2IMG)  # Garment Studio disabled: the offload is for every generation
    assert fake.moves == ["cpu"]
    assert [m.offloaded for m in runtime.cache_info()] == [True]
    runtime.cached_model("fake-gpu-model", lambda: pytest.fail("must not reload"), device="cuda:0")
    assert fake.moves == ["cpu", "cuda:0"]  # used again: back on its device

    host.set_options(garment_studio_offload_before_generation=False)
    host.txt2img(**TXT2IMG)
    assert fake.moves == ["cpu", "cuda:0"]  # setting off: left where it is
    assert [m.offloaded for m in runtime.cache_info()] == [False]

    host.set_options(garment_studio_offload_before_generation=True)
    client = host.client()
    body = {**TXT2IMG, "alwayson_scripts": {"garment studio": {"args": [False, {}]}}}
    assert client.post("/sdapi/v1/txt2img", json=body).status_code == 200
    assert fake.moves == ["cpu", "cuda:0", "cpu"]
    assert host.error_messages == []


def test_before_process_with_nothing_loaded_is_harmless(host) -> None:
    processed = host.txt2img(**TXT2IMG)
    assert len(processed.images) == 1
    assert engine("lib_garment.runtime").cache_info() == []
    assert host.error_messages == []


# -- Reload UI and the unload button --------------------------------------------------------------------------


def test_reload_ui_stops_the_model_worker(host) -> None:
    runtime = engine("lib_garment.runtime")
    worker = runtime.shared_worker()
    pid = worker.call("tests.runtime_probe:pid", timeout=120)
    assert worker.pid == pid != os.getpid()
    host.script_callbacks.script_unloaded_callback()  # what "Reload UI" runs first
    assert worker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone and reaped, not a zombie
    assert host.error_messages == []


def test_the_unload_button_drops_models_and_refreshes_the_panel(host) -> None:
    status_tab = engine("lib_garment.host.ui.status_tab")
    runtime = engine("lib_garment.runtime")
    resident_fake()
    assert len(runtime.cache_info()) == 1
    message = status_tab.unload_and_report()
    assert message.startswith("Unloaded 1 Garment Studio model;")
    assert runtime.cache_info() == []

    tabs = [t for t in host.run_ui_tabs() if t[1] == "Garment Studio"]
    blocks = tabs[0][0]
    buttons = {getattr(b, "elem_id", None): b for b in blocks.blocks.values()}
    assert "garment_studio_unload" in buttons
    assert buttons["garment_studio_unload"].value == "Unload Garment Studio models"
    calls: list[str] = []
    tab = status_tab.build_status_tab(lambda: calls.append("status") or "ok", unload=lambda: "unloaded")
    handlers = [fn for fn, outputs in event_handlers(tab) if outputs == 2]
    assert len(handlers) == 1  # the unload click updates the notice and the status panel
    assert handlers[0]() == ("unloaded", "ok")
    assert calls == ["status", "status"]  # built once, refreshed once
