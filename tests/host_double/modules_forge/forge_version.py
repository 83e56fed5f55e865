"""Forge's version string (HEAD dfdcbab6, host-contract §0)."""

from __future__ import annotations

version = "2.0.1v1.10.1"
