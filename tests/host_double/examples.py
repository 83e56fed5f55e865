"""Throw-away example extensions the double's own tests install into temporary WebUI roots."""

from __future__ import annotations

HOOKS = (
    "setup",
    "before_process",
    "process",
    "before_process_batch",
    "after_extra_networks_activate",
    "process_batch",
    "process_before_every_sampling",
    "before_hr",
    "post_sample",
    "postprocess_batch",
    "postprocess_batch_list",
    "postprocess_image",
    "postprocess_maskoverlay",
    "postprocess_image_after_composite",
    "postprocess",
)

RECORDER = '''
import gradio as gr
from modules import scripts

TITLE = {title!r}
FAIL_IN = {fail_in!r}


class Recorder(scripts.Script):
    """Logs every hook with p.iteration / p.batch_index and the args it got."""

    def __init__(self):
        self.calls = []

    def title(self):
        return TITLE

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        return [gr.Checkbox(value=False, label=TITLE + " enabled"), gr.State({{"default": True}})]

    def _log(self, hook, p, args, **extra):
        self.calls.append((hook, getattr(p, "iteration", None), getattr(p, "batch_index", None), args, extra))
        if hook in FAIL_IN:
            raise RuntimeError(TITLE + " fails in " + hook)

    def setup(self, p, *args):
        self._log("setup", p, args)

    def before_process(self, p, *args):
        self._log("before_process", p, args)

    def process(self, p, *args):
        self._log("process", p, args, all_seeds=list(p.all_seeds), all_prompts=list(p.all_prompts))

    def before_process_batch(self, p, *args, **kwargs):
        self._log("before_process_batch", p, args, batch_number=kwargs["batch_number"])

    def after_extra_networks_activate(self, p, *args, **kwargs):
        self._log("after_extra_networks_activate", p, args)

    def process_batch(self, p, *args, **kwargs):
        self._log("process_batch", p, args, batch_number=kwargs["batch_number"], seeds=list(kwargs["seeds"]))

    def process_before_every_sampling(self, p, *args, **kwargs):
        self._log("process_before_every_sampling", p, args, hr=p.is_hr_pass)

    def before_hr(self, p, *args):
        self._log("before_hr", p, args)

    def post_sample(self, p, ps, *args):
        self._log("post_sample", p, args)

    def postprocess_batch(self, p, *args, **kwargs):
        self._log("postprocess_batch", p, args, shape=tuple(kwargs["images"].shape))

    def postprocess_batch_list(self, p, pp, *args, **kwargs):
        self._log("postprocess_batch_list", p, args, count=len(pp.images))

    def postprocess_image(self, p, pp, *args):
        self._log("postprocess_image", p, args, size=pp.image.size)

    def postprocess_maskoverlay(self, p, ppmo, *args):
        self._log("postprocess_maskoverlay", p, args, index=ppmo.index)

    def postprocess_image_after_composite(self, p, pp, *args):
        self._log("postprocess_image_after_composite", p, args, size=pp.image.size)

    def postprocess(self, p, processed, *args):
        self._log("postprocess", p, args, images=len(processed.images))
'''


def recorder(title: str = "Recorder", fail_in: tuple[str, ...] = ()) -> str:
    """Source of an always-on script logging every hook into ``script.calls``; raises in ``fail_in`` hooks."""
    return RECORDER.format(title=title, fail_in=tuple(fail_in))


SELECTABLE = """
import gradio as gr
from modules import processing, scripts


class Picker(scripts.Script):
    def __init__(self):
        self.received = None

    def title(self):
        return "Picker"

    def show(self, is_img2img):
        return True

    def ui(self, is_img2img):
        return [gr.Slider(minimum=0, maximum=10, value=3, label="strength"), gr.Textbox(value="x", label="word")]

    def run(self, p, strength, word):
        self.received = (strength, word, type(p.script_args).__name__)
        p.prompt = f"{p.prompt} {word}"
        return processing.process_images(p)
"""

NO_UI = """
from modules import scripts


class Silent(scripts.Script):
    def __init__(self):
        self.process_args = None

    def title(self):
        return "Silent"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args):
        self.process_args = args
"""
