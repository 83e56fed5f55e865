"""What the WebUI loads from scripts/: the Script classes and the callback registration."""
