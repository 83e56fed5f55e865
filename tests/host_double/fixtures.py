"""Pytest fixtures of the host double (declared in ``tests/conftest.py``).

* ``webui`` – a started AUTOMATIC1111 1.10.1 double in ``tmp_path / "webui"``;
* ``forge_webui`` – the same for Forge;
* ``any_webui`` – parametrised over both flavours (test ids ``a1111`` / ``forge``);
* ``fresh_engine_modules`` – the extension's ``lib_garment`` imported from the copy installed into a double
  (the test process's own modules are set aside and put back afterwards);
* ``make_webui`` – a factory ``make_webui(flavour="a1111", cmd_args=(), name="webui")`` for custom flags or
  several roots; everything it made is closed after the test.

Each double is closed after its test: the fake ``modules`` package, extension modules and ``sys.path``
entries are removed again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.host_double.host import FLAVOURS, WebUIDouble


@pytest.fixture
def make_webui(tmp_path: Path) -> Iterator[Callable[..., WebUIDouble]]:
    made: list[WebUIDouble] = []

    def factory(flavour: str = "a1111", cmd_args: Sequence[str] = (), name: str | None = None) -> WebUIDouble:
        if any(h._started for h in made):
            raise RuntimeError("only one host double can be active at a time (they share `modules`)")
        host = WebUIDouble(tmp_path / (name or f"webui-{len(made)}"), flavour=flavour, cmd_args=cmd_args)
        made.append(host)
        return host.start()

    yield factory
    for host in reversed(made):
        host.close()


@pytest.fixture
def webui(make_webui: Callable[..., WebUIDouble]) -> WebUIDouble:
    return make_webui("a1111", name="webui")


@pytest.fixture
def forge_webui(make_webui: Callable[..., WebUIDouble]) -> WebUIDouble:
    return make_webui("forge", name="webui")


@pytest.fixture(params=FLAVOURS)
def any_webui(request: pytest.FixtureRequest, make_webui: Callable[..., WebUIDouble]) -> WebUIDouble:
    return make_webui(request.param, name="webui")


@pytest.fixture
def fresh_engine_modules() -> Iterator[None]:
    """Let the WebUI import lib_garment from the installed copy, then put the test process's modules back."""
    saved = {k: v for k, v in sys.modules.items() if k == "lib_garment" or k.startswith("lib_garment.")}
    for key in saved:
        del sys.modules[key]
    yield
    runtime = sys.modules.get("lib_garment.runtime")
    if runtime is not None:
        runtime.close_all()  # the copy's models and worker must not outlive the test
    for key in [k for k in sys.modules if k == "lib_garment" or k.startswith("lib_garment.")]:
        del sys.modules[key]
    sys.modules.update(saved)
