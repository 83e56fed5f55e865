"""The "Garment Studio" entry of img2img's Script dropdown: runs a task on the init image(s).

The WebUI's img2img batch tab calls ``run`` once per image with the same processing object, so folders of
products go through the same path; what the plan changed on that object (mask, inpaint options, ControlNet
units) is put back after each run, so the next image starts from the user's settings, not from our last plan.
The job is prepared here (the same engine call as the always-on script); the always-on script's
``postprocess_image_after_composite`` then composites each output before the WebUI saves it, so saved files
keep the product exactly too. REST: ``"script_name": "garment studio", "script_args": [{...settings...}]``.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from modules import processing, scripts

from lib_garment.errors import GarmentError
from lib_garment.generate.describe import request_prompt
from lib_garment.host.hooks.always_on import TITLE, settings_with
from lib_garment.host.passes.checks import CHECKS_ATTR, check_generation
from lib_garment.host.passes.img2img_job import img2img_photo, prepare_on_img2img, remember_fields, restore_fields
from lib_garment.host.passes.infotext import ERROR_KEY, INFOTEXT_KEY, forget_params, request_infotext
from lib_garment.host.webui.messages import warn
from lib_garment.request import parse_request


def _refused(p: Any, message: str) -> Any:
    """The run's answer when the job cannot start: no images, the message in info and comments."""
    warn(message)
    p.extra_generation_params[ERROR_KEY] = message
    return processing.Processed(p, [], p.seed, "", comments=f"{TITLE}: {message}")


class GarmentStudioImg2ImgScript(scripts.Script):
    def title(self) -> str:
        return TITLE

    def show(self, is_img2img: bool) -> bool:
        return is_img2img

    def ui(self, is_img2img: bool) -> list[Any]:
        settings = gr.State({})
        with gr.Row():
            task = gr.Radio(["background", "model"], value="background", label="Task", elem_id=self.elem_id("run_task"))
            phrases = gr.Textbox(
                label="Keep (what to segment; empty: your inpaint mask)",
                placeholder="white t-shirt",
                elem_id=self.elem_id("run_phrases"),
            )
        task.change(lambda s, v: settings_with(s, task=v), inputs=[settings, task], outputs=[settings])
        phrases.change(lambda s, v: settings_with(s, phrases=v), inputs=[settings, phrases], outputs=[settings])
        return [settings]

    def run(self, p: Any, *args: Any) -> Any:
        settings = args[0] if args else {}
        prompt = p.prompt
        remember_fields(p)
        forget_params(p.extra_generation_params)  # the Batch tab reuses p: no line of the previous image's job
        try:
            request = parse_request(settings)
            photo = img2img_photo(p)
            checks = check_generation(request, p.scripts)  # restore options and ControlNet, before any model runs
            setattr(p, CHECKS_ATTR, checks)  # for the restore pass after each image's composite
            p.extra_generation_params[INFOTEXT_KEY] = request_infotext(request)
            if isinstance(prompt, str):
                p.prompt = request_prompt(request, prompt)  # the model task's person, said in the prompt
            notes = prepare_on_img2img(p, request, checks, photo)
            for note in notes:
                p.comment(f"{TITLE}: {note}")
            return processing.process_images(p)
        except GarmentError as err:
            return _refused(p, str(err))
        finally:
            restore_fields(p)  # the Batch tab's next image starts from the user's settings
            p.prompt = prompt
