"""Small functions any runtime can run: health checks for ``doctor`` and the round-trip benchmark."""

from __future__ import annotations

import os
import sys
from typing import Any

from lib_garment.runtime.selection import host_version
from lib_garment.runtime.worker_main import IN_WORKER_ENV


def echo(value: Any) -> Any:
    """Return the argument unchanged (the round trip is the whole cost)."""
    return value


def describe(packages: tuple[str, ...] = ("transformers", "tokenizers", "huggingface-hub", "torch")) -> dict[str, Any]:
    """Where this process is and which package versions it would import (from metadata; nothing imported)."""
    return {
        "pid": os.getpid(),
        "in_worker": os.environ.get(IN_WORKER_ENV) == "1",
        "python": sys.executable,
        "sys_path_head": list(sys.path[:3]),
        "packages": {name: host_version(name) for name in packages},
    }
