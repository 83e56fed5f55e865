"""gradio builds a whole FastAPI app (routes, config) for every ``gr.Blocks`` when its ``with`` block closes, and
gradio 4 once more when the Blocks turns its queue on. The WebUI makes a handful of Blocks once at start and
serves only the one it launches; the host double makes them again for every test, where those apps cost more
than the test itself (about 0.1 s each on gradio 4, a dozen per started double).

:func:`install` makes them lazy: the app a closing Blocks would build is built the first time anything uses it.
``Blocks.launch`` builds its own app through ``gradio.routes.App`` directly, so launched servers (the browser
tests) are untouched, and every Blocks behaves as before for whoever looks at its ``app``.
"""

from __future__ import annotations

import types
from typing import Any


class _LazyApp:
    """Stands in for the app of a Blocks that was never launched; becomes it on first attribute access."""

    def __init__(self, create: Any, blocks: Any, kwargs: dict[str, Any]) -> None:
        object.__setattr__(self, "_make", lambda: create(blocks, **kwargs))
        object.__setattr__(self, "_app", None)

    def _real(self) -> Any:
        if self._app is None:
            object.__setattr__(self, "_app", self._make())
        return self._app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real(), name, value)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # an ASGI app, if ever mounted
        await self._real()(scope, receive, send)


def install() -> None:
    """Point ``gradio.blocks``' own reference to ``gradio.routes`` at a copy whose ``App.create_app`` is lazy."""
    import gradio.blocks
    import gradio.routes

    if getattr(gradio.blocks.routes, "_garment_lazy", False):
        return
    real = gradio.routes.App

    class LazyCreate:  # blocks.py uses routes.App only for create_app (gradio 3.41 and 4.40 alike)
        @staticmethod
        def create_app(blocks: Any, **kwargs: Any) -> Any:
            return _LazyApp(real.create_app, blocks, kwargs)

    proxy = types.ModuleType("gradio.routes")
    proxy.__dict__.update(gradio.routes.__dict__)
    proxy.App = LazyCreate  # type: ignore[attr-defined]
    proxy._garment_lazy = True  # type: ignore[attr-defined]
    gradio.blocks.routes = proxy  # type: ignore[attr-defined]
