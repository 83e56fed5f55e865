"""Probe functions the runtime tests call by name, in-process and in the model worker.

Importable in both processes (the worker has the extension root on its path). Nothing here imports torch or
transformers at module level: each worker start must stay cheap.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.runtime.cache import cached_model, load_count


@dataclass(frozen=True)
class Sample:
    """A dataclass argument/result: crosses the boundary by pickle like engine records will."""

    name: str
    path: Path
    size: tuple[int, int]


class ProbeBadInput(BadInput):
    """A GarmentError subclass from a module the parent may not have imported: falls back to BadInput."""


def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def pid() -> int:
    return os.getpid()


def transformers_identity() -> dict[str, str]:
    import transformers

    return {"version": transformers.__version__, "file": str(Path(transformers.__file__).resolve())}


def sys_path_head(count: int = 3) -> list[str]:
    return list(sys.path[:count])


def environment(name: str) -> str | None:
    return os.environ.get(name)


def loaded(names: list[str]) -> dict[str, bool]:
    return {name: name in sys.modules for name in names}


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def raise_key_error(key: str) -> None:
    raise KeyError(key)


def raise_bad_input(message: str) -> None:
    raise BadInput(message)


def raise_model_unavailable(message: str) -> None:
    raise ModelUnavailable(message)


def raise_probe_bad_input(message: str) -> None:
    raise ProbeBadInput(message)


def shout(message: str) -> str:
    """Print on stdout and stderr, as libraries do; neither may disturb the answer."""
    print(message)
    print(message, file=sys.stderr)
    return message


def crash(code: int = 3, message: str = "probe: going down") -> None:
    print(message, file=sys.stderr, flush=True)
    os._exit(code)


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def unpicklable_result() -> Any:
    return threading.Lock()


LOADS: dict[str, int] = {}


def _load(name: str) -> dict[str, Any]:
    LOADS[name] = LOADS.get(name, 0) + 1
    return {"name": name, "weights": list(range(4))}


def use_model(name: str) -> dict[str, Any]:
    """An engine-style function: its model is loaded on first use and resident afterwards."""
    model = cached_model(("probe", name), lambda: _load(name))
    return {
        "pid": os.getpid(),
        "loads": LOADS.get(name, 0),
        "cache_loads": load_count(("probe", name)),
        "model_id": id(model),
    }


_inside: list[int] = []  # one item per call currently inside exclusive()
_inside_lock = threading.Lock()


def exclusive(seconds: float = 0.005) -> int:
    """How many calls were inside this function at once (including this one)."""
    with _inside_lock:
        _inside.append(1)
        seen = len(_inside)
    time.sleep(seconds)
    with _inside_lock:
        seen = max(seen, len(_inside))
        _inside.pop()
    return seen


def die_by_signal() -> None:
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)
