"""What the WebUI runs for a Garment Studio job, from its up-front check to the restored, composited outputs."""
