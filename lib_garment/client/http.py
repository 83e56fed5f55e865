"""A small JSON-over-HTTP client on the standard library (urllib): no httpx/requests version to agree on with the
WebUI's pins. Every failure becomes one of the errors in :mod:`lib_garment.client.errors`, with a one-line
message that names the server (never its password) and says what to do.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from lib_garment.client.errors import HTTPStatusError, WebUIAuthError, WebUIError, WebUITimeout, WebUIUnavailable
from lib_garment.errors import BadInput

DEFAULT_TIMEOUT = 15.0
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def parse_auth(text: str | None) -> tuple[str, str] | None:
    """``USER:PASS`` (the WebUI's own --api-auth form) as a pair; BadInput when it is not that."""
    if text is None:
        return None
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise BadInput("--api-auth: expected USER:PASS, as given to the WebUI's own --api-auth")
    return user, password


def normalize_url(url: str) -> tuple[str, tuple[str, str] | None]:
    """The server's base URL (scheme, host, port, path prefix; no trailing slash) and the credentials it
    carried (``http://user:pass@host``), if any. ``127.0.0.1:7860`` means ``http://127.0.0.1:7860``."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise BadInput(f"--webui {url}: only http:// and https:// addresses are supported")
    try:
        host, port = parts.hostname, parts.port  # port raises ValueError when it is not a number
    except ValueError:
        raise BadInput(f"--webui {url}: the port is not a number") from None
    if not host:
        raise BadInput(f"--webui {url}: no host name (e.g. http://127.0.0.1:7860)")
    if parts.query or parts.fragment:
        raise BadInput(f"--webui {url}: give the server's address only, without ?query or #fragment")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    if not parts.username:
        return base, None
    return base, (urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))


def _detail(body: bytes) -> str:
    """The server's explanation in an error body: FastAPI's ``detail`` (text or a list of field errors), the
    WebUI's ``{"error", "detail", "errors"}``, or the first line of a text body."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200]
    if isinstance(data, dict):
        detail = data.get("detail") or data.get("errors") or data.get("error") or ""
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                    parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
                else:
                    parts.append(str(item))
            detail = "; ".join(parts)
        return " ".join(str(detail).split())[:300]
    return " ".join(text.split())[:200]


class JsonClient:
    """GET and POST JSON against one server, with HTTP basic auth when credentials are given."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base, url_auth = normalize_url(url)
        self.auth = auth or url_auth
        self.timeout = timeout
        host = urllib.parse.urlsplit(self.base).hostname or ""
        # A proxy from the environment must not catch a WebUI on this machine.
        handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK or host.endswith(".localhost") else []
        self._opener = urllib.request.build_opener(*handlers)

    @property
    def url(self) -> str:
        """The base URL as it may be shown and saved: never with credentials."""
        return self.base

    def get(self, path: str, *, query: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        return self.request("GET", path, None, timeout)

    def post(self, path: str, body: Any, *, timeout: float | None = None) -> Any:
        return self.request("POST", path, body, timeout)

    def request(self, method: str, path: str, body: Any, timeout: float | None) -> Any:
        limit = self.timeout if timeout is None else timeout
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.auth is not None:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode("ascii")
            request.add_header("Authorization", f"Basic {token}")
        where = f"{method} {self.base}{path.split('?')[0]}"
        try:
            with self._opener.open(request, timeout=limit) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise self._status_error(err, where, path) from None
        except urllib.error.URLError as err:
            raise self._connection_error(err.reason, where, limit) from None
        except TimeoutError:
            raise WebUITimeout(f"{where}: no answer within {limit:g} s") from None
        except (http.client.HTTPException, ConnectionError, OSError) as err:
            raise WebUIError(
                f"{where}: the connection broke before a complete answer ({type(err).__name__}: {err}); the WebUI may "
                "have crashed or run out of memory, see its console"
            ) from None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            snippet = " ".join(raw[:80].decode("utf-8", errors="replace").split())
            raise WebUIError(f"{where}: the answer is not JSON ({snippet!r}); is this a WebUI API?") from None

    def _status_error(self, err: urllib.error.HTTPError, where: str, path: str) -> WebUIError | WebUIAuthError:
        try:
            body = err.read()
        except (OSError, http.client.HTTPException):
            body = b""
        finally:
            err.close()
        detail = _detail(body)
        if err.code == 401:
            if self.auth is None:
                return WebUIAuthError(
                    f"{self.base} wants a user and password (the WebUI runs with --api-auth): give --api-auth USER:PASS"
                )
            return WebUIAuthError(f"{self.base} refused the user and password given with --api-auth")
        reason = err.reason or http.client.responses.get(err.code, "")
        text = f"{where}: HTTP {err.code} {reason}".rstrip() + (f": {detail}" if detail else "")
        return HTTPStatusError(text, err.code, detail, self.base + path)

    def _connection_error(self, reason: Any, where: str, limit: float) -> WebUIError | WebUIUnavailable:
        if isinstance(reason, TimeoutError):
            return WebUITimeout(f"{where}: no answer within {limit:g} s")
        if isinstance(reason, ConnectionRefusedError):
            return WebUIUnavailable(
                f"nothing answers at {self.base}: is the WebUI running, and on that port? Start it with --api"
            )
        if isinstance(reason, socket.gaierror):
            host = urllib.parse.urlsplit(self.base).hostname
            return WebUIUnavailable(f"cannot find the host {host!r} of {self.base}: check the --webui address")
        if isinstance(reason, ssl.SSLError):
            return WebUIError(f"{where}: TLS failed ({reason}); for a plain WebUI use http://")
        return WebUIUnavailable(f"cannot reach {self.base}: {reason}")
