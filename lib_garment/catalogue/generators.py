"""Where a catalogue's images are generated: anything with a name that turns a prepared job into composited
images. :class:`RemoteWebUI` is a WebUI over its API (the command line); the WebUI's own tab and REST routes
bring a generator that runs in-process (lib_garment/host).

A generator raises :class:`ServerFailure` when the fault is the server's (unreachable, an HTTP error, an answer
that is not an image): the job goes to another server and this one is taken out. Any other GarmentError is the
job's own fault and fails it.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lib_garment.errors import GarmentError

if TYPE_CHECKING:
    import numpy as np

    from lib_garment.client.webui import ServerInfo, WebUI
    from lib_garment.generate.composite import KeptCheck
    from lib_garment.generate.prepare import Prepared
    from lib_garment.request import GarmentRequest


class ServerFailure(GarmentError):
    """The server failed (not the job): the job is tried elsewhere, the server taken out."""

    exit_code = 3


@dataclass
class Generated:
    """One job's images, composited exactly onto the photo at its size."""

    images: list[np.ndarray]
    kept: list[KeptCheck]
    seeds: list[int | None]
    infotexts: list[str | None]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    server: dict[str, Any] = field(default_factory=dict)


class Generator(Protocol):
    name: str

    def generate(self, prepared: Prepared, timeout: float) -> Generated: ...


def job_refused(status: int) -> bool:
    """An HTTP status that blames the request (422: a value the server cannot take), not the server: such a job
    fails on every server. Authentication, a missing route, timeouts and rate limits are the server's."""
    return 400 <= status < 500 and status not in (401, 403, 404, 408, 429)


class RemoteWebUI:
    """A running WebUI (AUTOMATIC1111 or Forge, started with --api) generating over its API. ``info``: what
    :meth:`WebUI.check` found; unit model titles are resolved per set of units and remembered."""

    def __init__(self, server: WebUI, info: ServerInfo) -> None:
        self.server = server
        self.info = info
        self.name = server.url
        self._models: dict[tuple[Any, ...], list[str] | None] = {}
        self._lock = threading.Lock()

    def models_for(self, request: GarmentRequest) -> list[str] | None:
        """The ControlNet model titles for the request's units on this server (WebUIUnavailable naming a
        missing one)."""
        from lib_garment.generate.tasks import control_units

        wanted = tuple((unit.kind, unit.model) for unit in control_units(request))
        key = (wanted, request.allow_without_controlnet)
        with self._lock:
            if key not in self._models:
                self._models[key] = self.server.resolve_models(
                    self.info, list(wanted), request.allow_without_controlnet
                )
            return self._models[key]

    def check_request(self, request: GarmentRequest) -> None:
        """Everything this server must have for the request: its units' models and its sampler."""
        self.models_for(request)
        if request.generation.sampler:
            self.server.check_sampler(request.generation.sampler)

    def generate(self, prepared: Prepared, timeout: float) -> Generated:
        from lib_garment.client.errors import HTTPStatusError, WebUIError, WebUIUnavailable
        from lib_garment.client.remote import generate

        models = self.models_for(prepared.request)
        plan = prepared.plan
        if models:
            units = tuple(dataclasses.replace(u, model=m) for u, m in zip(plan.units, models, strict=True))
            plan = dataclasses.replace(plan, units=units)
        try:
            result = generate(self.server, self.info, plan, models, timeout)
        except HTTPStatusError as err:
            if job_refused(err.status):  # the server refused this job's request: the job's fault
                raise GarmentError(str(err)) from None
            raise ServerFailure(str(err)) from None
        except (WebUIError, WebUIUnavailable) as err:
            raise ServerFailure(str(err)) from None
        return Generated(
            images=result.images,
            kept=result.kept,
            seeds=result.seeds,
            infotexts=result.infotexts,
            notes=result.notes,
            warnings=result.warnings,
            server={"url": self.name, "checkpoint": self.info.checkpoint, "controlnet": result.controlnet_json()},
        )
