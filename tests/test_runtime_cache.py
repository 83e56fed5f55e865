"""Resident models: loaded once per key, dropped by unload, moved to the CPU and back by offload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lib_garment.paths import EXTENSION_DIR
from lib_garment.runtime.cache import cache_info, cached_model, load_count, offload_models, unload_models


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    unload_models()
    yield
    unload_models()


def test_a_model_is_loaded_once_and_reused() -> None:
    calls: list[int] = []

    def load() -> dict[str, int]:
        calls.append(1)
        return {"weights": len(calls)}

    first = cached_model(("cache-test", "once"), load)
    again = [cached_model(("cache-test", "once"), load) for _ in range(5)]
    assert calls == [1]
    assert all(model is first for model in again)
    assert load_count(("cache-test", "once")) == 1
    other = cached_model(("cache-test", "other"), load)  # another key is another model
    assert other is not first
    assert len(calls) == 2


def test_threads_asking_for_the_same_key_at_once_load_it_once() -> None:
    started = threading.Event()
    release = threading.Event()
    loads: list[int] = []

    def slow_load() -> object:
        loads.append(1)
        started.set()
        release.wait(10)
        return object()

    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(cached_model(("cache-test", "race"), slow_load)))
        for _ in range(4)
    ]
    threads[0].start()
    assert started.wait(10)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert loads == [1]
    assert len(results) == 4
    assert all(r is results[0] for r in results)


def test_a_failing_loader_stores_nothing() -> None:
    def broken() -> object:
        raise OSError("weights are truncated")

    with pytest.raises(OSError, match="truncated"):
        cached_model(("cache-test", "broken"), broken)
    assert cached_model(("cache-test", "broken"), lambda: "fixed") == "fixed"


def test_unload_drops_everything_and_the_next_use_loads_again() -> None:
    cached_model(("cache-test", "a"), lambda: "a")
    cached_model(("cache-test", "b"), lambda: "b")
    assert {info.key for info in cache_info()} == {("cache-test", "a"), ("cache-test", "b")}
    assert unload_models() == 2
    assert cache_info() == []
    before = load_count(("cache-test", "a"))
    cached_model(("cache-test", "a"), lambda: "a")
    assert load_count(("cache-test", "a")) == before + 1


def _recording_module(device: str) -> Any:
    """A torch module that records moves instead of copying tensors (CI has no GPU to move to)."""
    import torch

    class Recorder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.empty(2, 2, device=device))
            self.moves: list[str] = []

        def to(self, *args: Any, **kwargs: Any) -> Recorder:  # type: ignore[override]
            self.moves.append(str(args[0]))
            return self

    return Recorder()


def test_offload_moves_gpu_models_to_the_cpu_and_the_next_use_moves_them_back() -> None:
    # The parameter lives on "meta" here, standing in for a CUDA device: it is "not the CPU".
    module = _recording_module("meta")
    processor = {"size": 512}
    pair = cached_model(("cache-test", "vitmatte", "meta"), lambda: (processor, module))
    (info,) = cache_info()
    assert info.device == "meta"
    assert offload_models() == 1
    assert module.moves == ["cpu"]
    assert cache_info()[0].offloaded
    assert offload_models() == 0  # already off the GPU
    again = cached_model(("cache-test", "vitmatte", "meta"), lambda: pytest.fail("must not reload"))
    assert again is pair
    assert module.moves == ["cpu", "meta"]
    assert not cache_info()[0].offloaded


def test_offload_leaves_cpu_models_and_plain_objects_alone() -> None:
    cpu_module = _recording_module("cpu")
    cached_model(("cache-test", "cpu"), lambda: cpu_module)
    cached_model(("cache-test", "plain"), lambda: {"no": "torch"})
    assert offload_models() == 0
    assert cpu_module.moves == []
    assert {info.device for info in cache_info()} == {"cpu", None}


def test_models_inside_wrappers_are_found_and_a_custom_mover_is_used() -> None:
    class Predictor:  # like segment_anything.SamPredictor: the module is its .model
        def __init__(self) -> None:
            self.model = _recording_module("meta")

    predictor = cached_model(("cache-test", "sam"), Predictor)
    moved: list[tuple[object, str]] = []
    opaque = cached_model(("cache-test", "opaque"), object, device="cuda:0", move=lambda v, d: moved.append((v, d)))
    assert offload_models() == 2
    assert predictor.model.moves == ["cpu"]
    assert moved == [(opaque, "cpu")]
    cached_model(("cache-test", "opaque"), object)
    assert moved == [(opaque, "cpu"), (opaque, "cuda:0")]


def test_the_cache_never_imports_torch_itself() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom lib_garment.runtime.cache import cached_model, offload_models, unload_models\n"
        "cached_model('k', lambda: object())\noffload_models()\nunload_models()\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=EXTENSION_DIR, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
