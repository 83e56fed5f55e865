"""``modules.sd_models``: only what extensions touch: hashes, checkpoint lookups, reload no-ops."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from modules import shared

checkpoints_list: dict[str, Any] = {}
checkpoint_aliases: dict[str, Any] = {}


def _register_fake_checkpoint() -> None:
    info = shared.sd_model.sd_checkpoint_info
    checkpoints_list[info.title] = info
    for alias in (info.title, info.name, info.name_for_extra, info.shorthash):
        checkpoint_aliases[alias] = info


def model_hash(filename: str) -> str:
    """Eight hex digits derived from the file's bytes (the WebUI samples the file; the double hashes it all)."""
    return hashlib.sha256(Path(filename).read_bytes()).hexdigest()[:8]


def get_closet_checkpoint_match(search_string: str) -> Any:  # sic: the WebUI's spelling
    return checkpoint_aliases.get(search_string)


def reload_model_weights(sd_model: Any = None, info: Any = None, forced_reload: bool = False) -> Any:
    return shared.sd_model


def unload_model_weights(sd_model: Any = None, info: Any = None) -> None:
    """Nothing is loaded."""


def apply_token_merging(sd_model: Any, token_merging_ratio: float) -> None:
    """Token merging is not modelled."""


_register_fake_checkpoint()
