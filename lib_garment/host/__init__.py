"""The WebUI glue: everything that imports the WebUI (``modules``), gradio or ControlNet lives here.

Rooms, from the bottom up (a room imports only rooms below it; tests/test_module_graph.py checks it):

- ``webui/``: adapters to the WebUI's parts: processing objects and script runners, the ControlNet bridge
  (sd-webui-controlnet or Forge's), the Settings page, progress, console messages;
- ``passes/``: what the WebUI runs for a job: the up-front check, a plan put onto img2img, a plan generated on
  a processing object of our own, outputs and infotext, the hand and face restore passes;
- ``rest/`` and ``ui/`` (side by side, unaware of each other): the ``/garment-studio/v1`` routes; the tab's
  widgets, handlers and layout;
- ``hooks/``: what the WebUI loads: the always-on and img2img Script classes and the callback registration.
"""
