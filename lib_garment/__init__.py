"""Garment Studio engine: everything here runs without the WebUI (see lib_garment/host/ for the glue)."""

from __future__ import annotations

__version__ = "0.1.0"
