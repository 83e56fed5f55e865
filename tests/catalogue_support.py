"""Shared by the catalogue tests: a shoot of small photos with masks, manifests, and the host double served over
HTTP with a fixed generation latency or a fault (a 500, an answer that is not an image)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tests.test_run_cli import launch, serve_app

W, H = 96, 72
UNITS = [{"kind": "mask_canny"}]  # weight-free: no model file needed


def write_shoot(folder: Path, count: int, *, masks: bool = True, start: int = 0) -> list[str]:
    """``count`` photos (SKU-000 …) with ``<stem>.mask.png`` beside each; their SKUs."""
    folder.mkdir(parents=True, exist_ok=True)
    skus = []
    for k in range(start, start + count):
        rng = np.random.default_rng(k)
        photo = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        top, left = 10 + k % 7, 15 + k % 11
        photo[top : top + 40, left : left + 50] = (200, 40 + k % 50, 40)
        keep = np.zeros((H, W), np.uint8)
        keep[top : top + 40, left : left + 50] = 255
        sku = f"SKU-{k:03d}"
        Image.fromarray(photo).save(folder / f"{sku}.png")
        if masks:
            Image.fromarray(keep).save(folder / f"{sku}.mask.png")
        skus.append(sku)
    return skus


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()})
    return path


def base_request(tmp_path: Path, **extra: Any) -> Path:
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"control": UNITS, "generation": {"steps": 2}, **extra}))
    return path


class Latency:
    """The app with every img2img answer delayed by ``seconds`` (a WebUI's generation time)."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/img2img"):
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


class Faulty:
    """The app, except that img2img answers ``status`` with ``body`` (a crashed or confused server)."""

    def __init__(self, app: Any, status: int, body: bytes) -> None:
        self.app, self.status, self.body = app, status, body
        self.calls = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/img2img"):
            await self.app(scope, receive, send)
            return
        self.calls += 1
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@contextlib.contextmanager
def servers(host: Any, *wrappers: Any) -> Iterator[list[str]]:
    """The host double's API on one local port per wrapper (None: the app itself); their URLs. The double is
    launched once (its API app kept on it) however often a test serves it."""
    app = getattr(host, "catalogue_app", None)
    if app is None:
        app = host.catalogue_app = launch(host)
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serve_app(wrap(app) if wrap else app)) for wrap in wrappers]


class Dying:
    """The app, except that img2img dies mid-call: the connection closes with no answer (a WebUI killed, or out
    of memory, while it generated)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/img2img"):
            await self.app(scope, receive, send)
            return
        self.calls += 1
        await asyncio.sleep(0.1)
        raise RuntimeError("the server process died")  # uvicorn drops the connection without an answer
