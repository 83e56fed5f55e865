"""Fake ``lib_controlnet`` of Forge's built-in ControlNet (host double)."""
