"""Which ControlNetUnit this copy carries; ``WebUIDouble.install_controlnet`` rewrites it.

"pydantic": v1.1.448+ (``enabled=False`` default, validated); "legacy": ≤ v1.1.447 (dataclass, ``enabled=True``).
"""

UNIT_FLAVOUR = "pydantic"
