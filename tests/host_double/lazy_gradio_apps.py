"""gradio builds a whole FastAPI app (routes, config) for every ``gr.Blocks`` when its ``with`` block closes, and
gradio 4 once more when the Blocks turns its queue on. The WebUI makes a handful of Blocks once at start and
serves only the one it launches; the host double makes them again for every test, where those apps cost more
than the test itself (about 0.1 s each on gradio 4, a dozen per started double).

:func:`install` makes them lazy: the app a closing Blocks would build is built the first time anything uses it.
Likewise its ``config`` (on gradio 4 the costlier part: every component's API schema, about 0.35 s per started
double): computed when ``Blocks.__exit__`` or ``queue`` would compute it, it is now computed on first read.
``launch`` (and mounting) still compute it on the spot, so a served UI is built from the config of that moment,
as before.
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

    _lazy_config(gradio.blocks.Blocks)
    proxy = types.ModuleType("gradio.routes")
    proxy.__dict__.update(gradio.routes.__dict__)
    proxy.App = LazyCreate  # type: ignore[attr-defined]
    proxy._garment_lazy = True  # type: ignore[attr-defined]
    gradio.blocks.routes = proxy  # type: ignore[attr-defined]


_PENDING = object()  # a config that __exit__ or queue() asked for and nobody has read yet


def _lazy_config(blocks_class: Any) -> None:
    """``Blocks.config`` as a property: set to _PENDING inside ``__exit__`` and ``queue``, computed on first read."""
    real_get = blocks_class.get_config_file

    def get_config(self: Any) -> Any:
        value = self.__dict__.get("_garment_config")
        if value is _PENDING:
            value = self.__dict__["_garment_config"] = real_get(self)
        return value

    def set_config(self: Any, value: Any) -> None:
        self.__dict__["_garment_config"] = value

    def deferred(method: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            self.__dict__["_garment_defer_config"] = True
            try:
                return method(self, *args, **kwargs)
            finally:
                self.__dict__.pop("_garment_defer_config", None)

        return call

    def get_config_file(self: Any) -> Any:
        return _PENDING if self.__dict__.get("_garment_defer_config") else real_get(self)

    blocks_class.config = property(get_config, set_config)
    blocks_class.get_config_file = get_config_file
    blocks_class.__exit__ = deferred(blocks_class.__exit__)
    blocks_class.queue = deferred(blocks_class.queue)
