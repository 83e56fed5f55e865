"""What can go wrong talking to a WebUI, as the errors users see (each with its CLI exit code)."""

from __future__ import annotations

from lib_garment.errors import BadInput, GarmentError, ModelUnavailable


class WebUIError(GarmentError):
    """The server answered, but not as a WebUI should (an HTTP error, a body that is not JSON): exit 1."""


class WebUITimeout(WebUIError):
    """No answer within the time allowed."""


class WebUIUnavailable(ModelUnavailable):
    """No WebUI API to use: nothing listens there, it runs without --api, or ControlNet / a model is missing."""


class WebUIAuthError(BadInput):
    """The API wants a user and password (--api-auth), or refused the ones given."""


class HTTPStatusError(WebUIError):
    """An HTTP error status with the server's own explanation (``detail``)."""

    def __init__(self, message: str, status: int, detail: str, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.url = url
