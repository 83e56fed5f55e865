"""Templates of the fake ControlNet extensions; ``WebUIDouble.install_controlnet`` copies one into a WebUI root.

* ``sd-webui-controlnet/``: Mikubill's extension (v1.1.455 pydantic unit, or the ≤1.1.447 dataclass unit);
* ``sd_forge_controlnet/``: Forge's built-in ``lib_controlnet``.

The files are only ever imported from the copy, the way the WebUI imports an extension.
"""
