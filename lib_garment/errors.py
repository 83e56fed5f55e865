"""Errors users see: each carries the message to show and the CLI exit code it maps to."""

from __future__ import annotations


class GarmentError(Exception):
    """An expected failure with a message meant for the user (never shown as a traceback)."""

    exit_code = 1


class BadInput(GarmentError):
    """The request, a file or an argument is invalid; nothing was run.

    ``loc``: where the bad value sits in a request body (``("mask",)``, ``("request", "segment", "phrases")``),
    so the REST answer can name the field as pydantic's own errors do; empty when no one field is to blame."""

    exit_code = 2

    def __init__(self, message: str = "", *, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = tuple(loc)


class ModelUnavailable(GarmentError):
    """A model file is missing, or would need a download while offline."""

    exit_code = 3
