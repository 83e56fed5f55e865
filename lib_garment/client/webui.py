"""A running WebUI (AUTOMATIC1111 or Forge) seen through its API: is it there, which ControlNet does it have
(sd-webui-controlnet answers ``/controlnet/version``, Forge's built-in one does not), which ControlNet models,
which checkpoint base, and the img2img call itself.

Everything a job needs from the server is checked by :meth:`WebUI.check` and :meth:`WebUI.resolve_models`
before any local model runs, so a wrong address, a WebUI without ``--api`` or a missing ControlNet model costs
seconds, not a segmentation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lib_garment.client.errors import HTTPStatusError, WebUIError, WebUITimeout, WebUIUnavailable
from lib_garment.client.http import DEFAULT_TIMEOUT, JsonClient
from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.generate.controlnet_models import Base, base_of, resolve_model
from lib_garment.generate.controlnet_units import Flavour

DEFAULT_UNIT_COUNT = 3  # "Multi-ControlNet: ControlNet unit number" in both ControlNets
CONTROLNET_HINT = (
    "install sd-webui-controlnet in the WebUI (Extensions > Available; Forge has it built in) and restart it, "
    "or run without units (--units none)"
)
# Options that add images after each output in the answer (host-contract §4); turned off for our call.
_EXTRA_IMAGE_OPTIONS = ("return_mask", "return_mask_composite")


@dataclass(frozen=True)
class ControlNetInfo:
    flavour: Flavour
    titles: tuple[str, ...]
    unit_count: int
    unit_count_known: bool
    api_version: int | None = None
    returns_maps: bool = True  # sd-webui-controlnet's "Do not append detectmap to output" is off

    def to_json(self) -> dict[str, Any]:
        return {
            "flavour": self.flavour,
            "api_version": self.api_version,
            "models": list(self.titles),
            "unit_count": self.unit_count if self.unit_count_known else None,
        }


@dataclass(frozen=True)
class ServerInfo:
    url: str
    checkpoint: str | None
    base: Base
    controlnet: ControlNetInfo | None
    override_settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "checkpoint": self.checkpoint,
            "base": self.base,
            "controlnet": None if self.controlnet is None else self.controlnet.to_json(),
        }


def checkpoint_base(title: str | None) -> Base:
    """SDXL when the checkpoint's name says so ("sd_xl_base_1.0", "juggernautXL_v9"), else SD 1.5."""
    if not title:
        return "sd15"
    name = title.replace("\\", "/").rsplit("/", 1)[-1]
    found = base_of(name)
    if found is not None:
        return found
    return "sdxl" if "xl" in name.lower() else "sd15"


class WebUI:
    """One WebUI API server."""

    def __init__(self, client: JsonClient) -> None:
        self.client = client

    @classmethod
    def connect(cls, url: str, auth: tuple[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT) -> WebUI:
        return cls(JsonClient(url, auth, timeout))

    @property
    def url(self) -> str:
        return self.client.url

    # -- what the server has ---------------------------------------------------------------------------------
    def check(self) -> ServerInfo:
        """The server's checkpoint, base and ControlNet, or WebUIUnavailable (exit 3) / WebUIAuthError (exit 2)
        saying what is wrong: nothing listening, no API (--api), bad credentials."""
        options = self._probe("/sdapi/v1/options", "the WebUI API")
        if not isinstance(options, dict):
            raise WebUIUnavailable(f"{self.url}/sdapi/v1/options did not answer like a WebUI; is this its address?")
        checkpoint = options.get("sd_model_checkpoint")
        checkpoint = checkpoint if isinstance(checkpoint, str) and checkpoint else None
        overrides = {key: False for key in _EXTRA_IMAGE_OPTIONS if options.get(key)}
        return ServerInfo(self.url, checkpoint, checkpoint_base(checkpoint), self._controlnet(options), overrides)

    def _probe(self, path: str, what: str) -> Any:
        try:
            return self.client.get(path)
        except WebUITimeout:
            raise WebUIUnavailable(
                f"{self.url} does not answer within {self.client.timeout:g} s: is the WebUI still starting, or busy?"
            ) from None
        except HTTPStatusError as err:
            if err.status == 404:
                raise WebUIUnavailable(
                    f"{self.url} answers but has no {what} ({path} not found): start the WebUI with --api "
                    "(add it to COMMANDLINE_ARGS in webui-user.sh / webui-user.bat)"
                ) from None
            raise WebUIUnavailable(f"{self.url} is not usable: {err}") from None
        except WebUIError as err:
            raise WebUIUnavailable(f"{self.url} is not usable: {err}") from None

    def _optional(self, path: str, query: dict[str, Any] | None = None) -> Any | None:
        """The answer, or None when the route does not exist (404)."""
        try:
            return self.client.get(path, query=query)
        except HTTPStatusError as err:
            if err.status in (404, 405):
                return None
            raise

    def _controlnet(self, options: dict[str, Any]) -> ControlNetInfo | None:
        listing = self._optional("/controlnet/model_list", {"update": "true"})
        if listing is None:
            return None
        titles = listing.get("model_list") if isinstance(listing, dict) else None
        if not isinstance(titles, list):
            raise WebUIUnavailable(f"{self.url}/controlnet/model_list did not answer with a model list")
        version = self._optional("/controlnet/version")  # only sd-webui-controlnet has it (host-contract §5b)
        flavour: Flavour = "forge" if version is None else "sd-webui-controlnet"
        api_version = version.get("version") if isinstance(version, dict) else None
        count = options.get("control_net_unit_count")
        if flavour == "sd-webui-controlnet":
            settings = self._optional("/controlnet/settings")
            if isinstance(settings, dict) and settings.get("control_net_unit_count") is not None:
                count = settings["control_net_unit_count"]
        known = isinstance(count, int | float) and not isinstance(count, bool) and count >= 1
        return ControlNetInfo(
            flavour=flavour,
            titles=tuple(str(t) for t in titles),
            unit_count=int(count) if known else DEFAULT_UNIT_COUNT,
            unit_count_known=known,
            api_version=api_version if isinstance(api_version, int) else None,
            # Forge sends its maps whatever this option says (host-contract §5b).
            returns_maps=flavour == "forge" or not options.get("control_net_no_detectmap", False),
        )

    def resolve_models(
        self, info: ServerInfo, units: Sequence[tuple[str, str | None]], allow_without: bool = False
    ) -> list[str] | None:
        """Each (kind, wanted title) unit's installed model title, in order. None when there are no units, or
        ControlNet is missing and ``allow_without``. ModelUnavailable naming every kind without a model."""
        if not units:
            return []
        cn = info.controlnet
        if cn is None:
            if allow_without:
                return None
            raise WebUIUnavailable(f"{self.url} has no ControlNet (no /controlnet/model_list): {CONTROLNET_HINT}")
        if len(units) > cn.unit_count:
            raise WebUIUnavailable(
                f"{len(units)} ControlNet units are needed but {self.url} has {cn.unit_count} unit slots: raise "
                "'Multi-ControlNet: ControlNet unit number' (Settings > ControlNet) and restart the WebUI, or use "
                "fewer units (--units)"
            )
        found, problems = [], []
        for kind, wanted in units:
            try:
                found.append(resolve_model(kind, cn.titles, info.base, wanted))
            except ModelUnavailable as err:  # noqa: PERF203 - every missing kind is named at once
                problems.append(str(err))
        if problems:
            raise WebUIUnavailable(f"on {self.url}: " + "; ".join(dict.fromkeys(problems)))
        return found

    def check_sampler(self, name: str) -> None:
        """BadInput listing the server's samplers when it has none called ``name`` (names, aliases and the
        "<sampler> <scheduler>" form, e.g. "DPM++ 2M Karras", are accepted)."""
        listing = self._optional("/sdapi/v1/samplers")
        if not isinstance(listing, list):
            return
        names = [str(s.get("name")) for s in listing if isinstance(s, dict) and s.get("name")]
        known = {n.lower() for n in names}
        for sampler in listing:
            if isinstance(sampler, dict):
                known |= {str(a).lower() for a in sampler.get("aliases") or ()}
        wanted = name.strip().lower()
        if not names or wanted in known or any(wanted.startswith(n + " ") for n in known):
            return
        raise BadInput(f"--sampler {name!r}: {self.url} has no such sampler (it has: {', '.join(names)})")

    # -- generation --------------------------------------------------------------------------------------------
    def img2img(self, body: dict[str, Any], timeout: float) -> Any:
        try:
            return self.client.post("/sdapi/v1/img2img", body, timeout=timeout)
        except WebUITimeout:
            raise WebUITimeout(
                f"{self.url} did not finish the img2img call within {timeout:g} s (raise --timeout; the WebUI may "
                "still be generating: its Interrupt button stops it)"
            ) from None
        except HTTPStatusError as err:
            if err.status == 404:
                raise WebUIUnavailable(f"{self.url} has no /sdapi/v1/img2img: start the WebUI with --api") from None
            detail = f": {err.detail}" if err.detail else ""
            message = f"the img2img call failed on {self.url}: HTTP {err.status}{detail}"
            raise HTTPStatusError(message, err.status, err.detail, err.url) from None  # the status tells whose fault

    def interrupt(self) -> None:
        """Ask the server to stop the current job (best effort: Ctrl-C here should not leave it generating)."""
        with contextlib.suppress(Exception):  # best effort while the user is leaving
            self.client.post("/sdapi/v1/interrupt", {}, timeout=5)
