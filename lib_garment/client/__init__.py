"""Driving a running WebUI (AUTOMATIC1111 or Forge, started with ``--api``) from outside: the client behind
``python -m lib_garment run --webui URL`` and behind scripts that spread jobs over WebUI servers.

- :mod:`~lib_garment.client.http`: JSON over HTTP on the standard library (urllib), basic auth, clear errors;
- :mod:`~lib_garment.client.webui`: what a server has (API, checkpoint base, ControlNet flavour and models);
- :mod:`~lib_garment.client.payload`: a GenerationPlan as an img2img body, the answer taken apart;
- :mod:`~lib_garment.client.remote`: a plan generated on a server and composited exactly onto the photo.

The engine prepares the plan locally (:func:`lib_garment.generate.prepare.prepare`); only the generation runs on
the server. Nothing here imports the WebUI.
"""

from __future__ import annotations

from lib_garment.client.errors import WebUIAuthError, WebUIError, WebUITimeout, WebUIUnavailable
from lib_garment.client.http import JsonClient
from lib_garment.client.webui import ServerInfo, WebUI

__all__ = [
    "JsonClient",
    "ServerInfo",
    "WebUI",
    "WebUIAuthError",
    "WebUIError",
    "WebUITimeout",
    "WebUIUnavailable",
]
