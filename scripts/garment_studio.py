"""The one file the WebUI loads for Garment Studio: wiring only (the engine lives in lib_garment/)."""

from __future__ import annotations

try:
    # Imported here so the WebUI registers it (it collects every Script subclass in this module).
    from lib_garment.host.hooks.always_on import GarmentStudioScript  # noqa: F401
    from lib_garment.host.hooks.callbacks import register
except Exception as err:  # noqa: BLE001 - fail soft: a tab that says why beats a vanished tab
    from lib_garment.host.ui.error_tab import register_error_tab
    from lib_garment.host.webui.messages import warn

    warn(f"failed to load: {type(err).__name__}: {err}")
    register_error_tab(err)
else:
    register()
