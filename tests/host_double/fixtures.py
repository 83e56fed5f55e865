"""Pytest fixtures of the host double (declared in ``tests/conftest.py``).

* ``webui`` – a started AUTOMATIC1111 1.10.1 double (in the session's ``host-doubles/webui``, emptied first);
* ``forge_webui`` – the same for Forge;
* ``any_webui`` – the flavour whose packages this environment has (test id ``a1111`` or ``forge``): gradio 3
  and pydantic 1 are AUTOMATIC1111 1.10.1's, gradio 4 and pydantic 2 Forge's. A Forge double on gradio 3 is a
  host nobody runs, so each package set tests its own WebUI (``GARMENT_TEST_FLAVOURS=a1111,forge`` runs both);
* ``fresh_engine_modules`` – the extension's ``lib_garment`` imported from the copy installed into a double
  (the test process's own modules are set aside and put back afterwards);
* ``make_webui`` – a factory ``make_webui(flavour="a1111", cmd_args=(), name="webui")`` for custom flags or
  several roots; everything it made is closed after the test.

Each double is closed after its test: the fake ``modules`` package, extension modules and ``sys.path``
entries are removed again.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence

import pytest

from tests.host_double.host import FLAVOURS, WebUIDouble


@pytest.fixture
def make_webui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., WebUIDouble]]:
    made: list[WebUIDouble] = []
    # One folder per double name for the whole session, emptied before each use: the extension copied into it
    # then has the same path in every test, so Python's bytecode cache (PYTHONPYCACHEPREFIX in the test
    # command) serves its modules instead of compiling the whole package again for every double.
    hosts = tmp_path_factory.getbasetemp() / "host-doubles"

    def factory(flavour: str = "a1111", cmd_args: Sequence[str] = (), name: str | None = None) -> WebUIDouble:
        if any(h._started for h in made):
            raise RuntimeError("only one host double can be active at a time (they share `modules`)")
        root = hosts / (name or f"webui-{len(made)}")
        shutil.rmtree(root, ignore_errors=True)
        host = WebUIDouble(root, flavour=flavour, cmd_args=cmd_args)
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


def flavours_of_this_set() -> tuple[str, ...]:
    """The host flavours ``any_webui`` runs here: the one this environment's gradio belongs to."""
    override = os.environ.get("GARMENT_TEST_FLAVOURS", "").strip()
    if override:
        wanted = tuple(name.strip() for name in override.split(",") if name.strip())
        unknown = [name for name in wanted if name not in FLAVOURS]
        if unknown:
            raise ValueError(f"GARMENT_TEST_FLAVOURS names unknown flavours {unknown}; use {', '.join(FLAVOURS)}")
        return wanted
    from importlib.metadata import version

    return ("a1111",) if int(version("gradio").split(".")[0]) < 4 else ("forge",)


@pytest.fixture(params=flavours_of_this_set())
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
