"""``modules.sd_samplers``: sampler and scheduler names, for request validation."""

from __future__ import annotations

from typing import Any, NamedTuple


class SamplerData(NamedTuple):
    """As in the WebUI (``modules.sd_samplers_common.SamplerData``): the list holds these, not names."""

    name: str
    constructor: Any
    aliases: list
    options: dict


_NAMES = [
    "DPM++ 2M",
    "DPM++ SDE",
    "DPM++ 2M SDE",
    "DPM++ 2M SDE Heun",
    "DPM++ 2S a",
    "DPM++ 3M SDE",
    "Euler a",
    "Euler",
    "LMS",
    "Heun",
    "DPM2",
    "DPM2 a",
    "DPM fast",
    "DPM adaptive",
    "Restart",
    "DDIM",
    "DDIM CFG++",
    "PLMS",
    "UniPC",
    "LCM",
]
samplers = [SamplerData(name, None, [], {}) for name in _NAMES]
schedulers = [
    "Automatic",
    "Uniform",
    "Karras",
    "Exponential",
    "Polyexponential",
    "SGM Uniform",
    "KL Optimal",
    "Align Your Steps",
    "Simple",
    "Normal",
    "DDIM",
    "Beta",
]
all_samplers_map = {sampler.name: sampler for sampler in samplers}


def visible_samplers() -> list[SamplerData]:
    """The samplers not hidden in the settings (``hide_samplers``)."""
    from modules import shared

    hidden = set(shared.opts.data.get("hide_samplers", []) or [])
    return [sampler for sampler in samplers if sampler.name not in hidden]


def get_sampler_and_scheduler(sampler_name: str | None, scheduler_name: str | None) -> tuple[str, str]:
    """Split an old combined name such as "DPM++ 2M Karras" into sampler and scheduler."""
    sampler = sampler_name or "Euler a"
    scheduler = scheduler_name or "Automatic"
    for label in schedulers:
        if sampler.endswith(" " + label) and sampler[: -len(label) - 1] in all_samplers_map:
            return sampler[: -len(label) - 1], label
    return sampler, scheduler
