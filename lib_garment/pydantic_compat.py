"""One import point for pydantic's v1 API, so the same models run on pydantic 1 (A1111) and 2 (Forge)."""

from __future__ import annotations

try:  # pydantic 2, and pydantic >= 1.10.17, ship the v1 API under this name
    from pydantic.v1 import BaseModel, Extra, Field, ValidationError, root_validator, validator
except ImportError:  # older pydantic 1.x
    from pydantic import BaseModel, Extra, Field, ValidationError, root_validator, validator  # type: ignore[assignment]

__all__ = ["BaseModel", "Extra", "Field", "ValidationError", "root_validator", "validator"]
