"""Adapters to the WebUI's parts (processing, ControlNet, settings, progress, console): no job logic here."""
