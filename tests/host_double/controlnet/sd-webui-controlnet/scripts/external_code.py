"""Public entry point other extensions import, as in sd-webui-controlnet."""

from internal_controlnet.external_code import *  # noqa: F403
