"""A loopback HTTP server for the download tests (127.0.0.1 only, files from memory), and its own checks.

It speaks just enough HTTP/1.1 to exercise the downloader: Range requests (206, 416) or deliberately ignoring
them (200), error statuses, a connection cut mid-body, and a stall that outlasts the client's timeout. Every
request is recorded, so tests can say "no HTTP request was made" or "the resume asked for bytes=N-".
"""

from __future__ import annotations

import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class Route:
    body: bytes
    status: int = 200  # anything else is answered as an error
    ranges: bool = True  # False: ignore Range and send the whole file with 200
    cut_after: int | None = None  # close the connection after this many body bytes
    stall: threading.Event | None = None  # wait for this event before answering (client times out first)
    no_length: bool = False  # send no Content-Length: the body ends when the connection closes


@dataclass
class Seen:
    path: str
    range: str | None


@dataclass
class LoopbackServer:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests.append(Seen(self.path, self.headers.get("Range")))
                route = owner.routes.get(self.path)
                if route is not None and route.stall is not None:
                    route.stall.wait(10)
                    self.close_connection = True
                    return
                if route is None or route.status != 200:
                    self.send_error(404 if route is None else route.status)
                    return
                self._send(route)

            def _send(self, route: Route) -> None:
                body, size = route.body, len(route.body)
                match = _RANGE.match(self.headers.get("Range") or "")
                if match and route.ranges:
                    start = int(match.group(1))
                    if start >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                    body = body[start:]
                else:
                    self.send_response(200)
                    self.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
                if route.no_length:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if route.cut_after is not None:
                    self.wfile.write(body[: route.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for route in self.routes.values():
            if route.stall is not None:
                route.stall.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes, **options: object) -> str:
        self.routes[path] = Route(body, **options)  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


def refuse_other_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to resolve a host other than the loopback address: the tests never touch the network."""
    real = socket.getaddrinfo

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        if isinstance(host, bytes):
            host = host.decode()
        if host not in LOOPBACK:
            raise AssertionError(f"test tried to reach {host!r}; only the loopback server may be used")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_other_hosts(monkeypatch)


# -- the server itself -------------------------------------------------------------------------------------------


def _get(url: str, range_header: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Range": range_header} if range_header else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, b"", dict(err.headers)


def test_server_honours_and_ignores_ranges(server: LoopbackServer, loopback_only: None) -> None:
    body = bytes(range(256)) * 4
    with_ranges = server.serve("/a", body)
    without = server.serve("/b", body, ranges=False)
    assert _get(with_ranges)[:2] == (200, body)
    status, data, headers = _get(with_ranges, "bytes=1000-")
    assert (status, data, headers["Content-Range"]) == (206, body[1000:], "bytes 1000-1023/1024")
    assert _get(with_ranges, "bytes=1024-")[0] == 416
    assert _get(without, "bytes=1000-")[:2] == (200, body)
    assert [r.range for r in server.hits("/a")] == [None, "bytes=1000-", "bytes=1024-"]


def test_server_reports_errors_and_unknown_paths(server: LoopbackServer) -> None:
    broken = server.serve("/broken", b"x", status=500)
    assert _get(broken)[0] == 500
    assert _get(server.url("/nothing-here"))[0] == 404


def test_the_network_guard_refuses_other_hosts(loopback_only: None) -> None:
    with pytest.raises(AssertionError, match="only the loopback server"):
        socket.getaddrinfo("huggingface.co", 443)
