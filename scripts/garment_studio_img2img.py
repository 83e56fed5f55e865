"""The img2img Script-dropdown entry "Garment Studio" (one Script class per file: the WebUI registers every
Script subclass a scripts/ file holds, imported ones included)."""

from __future__ import annotations

try:
    from lib_garment.host.hooks.img2img_script import GarmentStudioImg2ImgScript  # noqa: F401
except Exception as err:  # noqa: BLE001 - the always-on file already shows an error tab; say it once more here
    from lib_garment.host.webui.messages import warn

    warn(f"the img2img script failed to load: {type(err).__name__}: {err}")
