"""Adapters to the outside world. The only package (with scripts/) that may import modules, gradio or ControlNet."""
