"""Garment Studio's REST routes, ``/garment-studio/v1/...`` (:mod:`.routes` registers them)."""
