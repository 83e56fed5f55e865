"""Shared by the many-servers tests: a real ``redis-server`` on a free loopback port (a password, a temp folder,
an append-only file so a restart keeps the queue), real ``python -m lib_garment worker`` processes, and the host
double's /generate route with a fixed latency or switched off (a server that went away)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "s3cret-broker-pw"  # a test server's password, checked never to appear in any output
API_AUTH = ("studio", "api-pw-41")
JOB_TIMEOUT, VISIBILITY = 2.0, 2.5  # short, so a lost worker's job comes back within seconds (jobs take ~0.1 s)


def with_routes(webui: Any) -> Any:
    """The double with Garment Studio installed (its /garment-studio/v1 routes) next to ControlNet's canny model,
    launched once: what ``catalogue_support.servers`` then serves on its ports."""
    webui.with_garment_studio(("control_v11p_sd15_canny",))
    webui.catalogue_app = webui.launch(nowebui=True)
    return webui


def spawn(command: str, argv: list[object], log: Path) -> subprocess.Popen:
    """``python -m lib_garment COMMAND …`` as a process of its own (the double imports the installed copy of
    lib_garment in this one), its output in ``log``."""
    handle = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lib_garment", command, *map(str, argv)],
        cwd=ROOT,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    handle.close()
    return proc


def run(command: str, argv: list[object], log: Path, limit: float = 120) -> tuple[int, str]:
    proc = spawn(command, argv, log)
    code = proc.wait(limit)
    return code, log.read_text()


def wait_until(condition: Any, what: str, limit: float = 60.0) -> None:
    """A safety net for a broken test (it fails naming what never happened), never a timing assertion."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Redis:
    """A redis-server process of its own, restartable on the same port and folder."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.proc: subprocess.Popen | None = None
        self.started = False  # once it has run, a restart keeps its port (the tests' clients point there)
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: tools/run_tests.sh installs it (apt-get install redis-server)"
        log = self.folder / "redis.log"
        for _ in range(3):
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
                 "--appendonly", "yes", "--appendfsync", "always", "--requirepass", PASSWORD, "--protected-mode", "no",
                 "--logfile", str(log)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if self._answers(deadline=time.monotonic() + 30):
                self.started = True
                return
            # Exited at once: another process took the port between free_port() and here (the two package sets
            # and the WebUI checks run side by side). A first start may move to another port; a restart may not.
            if self.started:
                break
            self.port = free_port()
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else "(no log)"
        raise AssertionError(f"redis-server did not start on port {self.port}; its log ends:\n{tail}")

    def _answers(self, deadline: float) -> bool:
        """True once the server answers PING; False when it exited or the deadline passed."""
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5) as sock:
                sock.sendall(f"AUTH {PASSWORD}\r\nPING\r\n".encode())
                if b"PONG" in sock.recv(100):
                    return True
            if self.proc is not None and self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        self.stop()
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Redis finishes its append-only file and exits
            self.proc.wait(10)
        self.proc = None


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[Redis]:
    server = Redis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Worker:
    """``python -m lib_garment worker`` as a process of its own; its stderr kept in a file."""

    def __init__(self, broker: str, webui: str, name: str, log: Path, *extra: str) -> None:
        self.name, self.log = name, log
        argv = [sys.executable, "-m", "lib_garment", "worker", "--broker", broker, "--webui", webui, "--name", name,
                "--timeout", str(JOB_TIMEOUT), "--visibility-timeout", str(VISIBILITY), "--health-interval", "0.5",
                *extra]  # fmt: skip
        self.handle = log.open("w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=self.handle, stderr=subprocess.STDOUT, env=env)

    def text(self) -> str:
        return self.log.read_text()

    def wait_ready(self, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while " ready: server " not in self.text():
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.handle.close()


@contextlib.contextmanager
def workers(broker: str, urls: list[str], folder: Path, *extra: str) -> Iterator[list[Worker]]:
    started = [Worker(broker, url, f"w{k}", folder / f"worker-{k}.log", *extra) for k, url in enumerate(urls)]
    try:
        for worker in started:
            worker.wait_ready()
        yield started
    finally:
        # All asked to stop first, then waited for: their warm shutdowns overlap instead of queuing up.
        for worker in started:
            if worker.proc.poll() is None:
                worker.proc.terminate()
        for worker in started:
            worker.stop()


@contextlib.contextmanager
def module_double(folder: Path) -> Iterator[Any]:
    """This package set's host double for a whole test module, with ``lib_garment`` imported from the copy
    installed into it while it runs: what the ``webui`` and ``fresh_engine_modules`` fixtures do for one test, so
    that one launched double (and one reference run on it) serves every test of the module."""
    from tests.host_double.fixtures import flavours_of_this_set
    from tests.host_double.host import WebUIDouble

    shutil.rmtree(folder, ignore_errors=True)
    host = WebUIDouble(folder, flavour=flavours_of_this_set()[0]).start()
    saved = {k: v for k, v in sys.modules.items() if k == "lib_garment" or k.startswith("lib_garment.")}
    for key in saved:
        del sys.modules[key]
    try:
        yield host
    finally:
        runtime = sys.modules.get("lib_garment.runtime")
        if runtime is not None:
            runtime.close_all()  # the copy's models and worker must not outlive the module
        for key in [k for k in sys.modules if k == "lib_garment" or k.startswith("lib_garment.")]:
            del sys.modules[key]
        sys.modules.update(saved)
        host.close()


class Generating:
    """The app with each /garment-studio/v1/generate answer delayed by ``seconds`` (a WebUI's generation time),
    held on demand (``hold``: the call waits until it is cleared, so a worker can be killed mid-job for sure),
    and switched off on demand: ``down`` drops every connection unanswered (a server that went away); the calls
    are counted, and their bodies' ``exact_matte`` flags kept."""

    def __init__(self, app: Any = None, seconds: float = 0.0) -> None:
        self.app = app
        self.reset(seconds)

    def reset(self, seconds: float) -> None:
        """Back to a healthy server of ``seconds`` latency with nothing counted (a module shares the servers)."""
        self.seconds = seconds
        self.down = self.hold = False
        self.calls = self.active = 0
        self.exact_matte: list[bool] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.down:
            raise RuntimeError("the server went away")  # uvicorn drops the connection without an answer
        if scope["type"] == "http" and scope["path"].endswith("/generate"):
            self.calls += 1
            self.active += 1
            try:
                body = await _whole_body(receive)
                self.exact_matte.append(json.loads(body).get("exact_matte") is True)
                await asyncio.sleep(self.seconds)
                while self.hold:
                    await asyncio.sleep(0.01)
                await self.app(scope, _replay(body), send)
            finally:
                self.active -= 1
            return
        await self.app(scope, receive, send)


async def _whole_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Any:
    """An ASGI ``receive`` that hands the app the body read already, then waits as a client that sent it all."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never a disconnect: the app answers, as to a live client
        return {"type": "http.disconnect"}

    return receive
