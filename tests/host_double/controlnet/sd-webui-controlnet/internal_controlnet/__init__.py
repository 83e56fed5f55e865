"""Fake ``internal_controlnet`` of sd-webui-controlnet (host double)."""
