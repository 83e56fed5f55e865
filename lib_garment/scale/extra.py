"""The optional ``scale`` extra (``celery[redis]``): found, or named with the command that installs it."""

from __future__ import annotations

from types import ModuleType

from lib_garment.errors import ModelUnavailable

INSTALL = 'pip install "celery[redis]>=5.5,<6"'


class ExtraMissing(ModelUnavailable):
    """The scale extra is not installed (exit 3, as for any missing component)."""


def require_celery() -> ModuleType:
    """The ``celery`` module, or ExtraMissing naming the install command (also when its Redis client is missing)."""
    try:
        import celery
        import redis  # noqa: F401 - the broker's client comes with the [redis] part of the extra
    except ImportError as err:
        raise ExtraMissing(
            f"many servers need the scale extra, which is not installed here ({err.name} is missing): "
            f"{INSTALL}  (in this environment, not the WebUI's: the WebUI needs nothing of it)"
        ) from None
    return celery
