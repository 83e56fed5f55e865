"""``modules.api.api``: image codecs and the ``Api`` that mounts ``/sdapi/v1`` (host-contract §3.2 "REST path", §4).

Faithful points: default script args are the ``.value`` of the components of a fresh ``ui()`` call (made
inside a ``gr.Blocks``), copied shallowly per request; ``alwayson_scripts[name]["args"]`` are laid over them
positionally and cut to the script's slot count; names are matched on ``title().lower()``; an unknown name or
a selectable script named there gives HTTP 422; alwayson-only runs get a *tuple* ``p.script_args``, runs with
``script_name`` a list; ``p.is_api`` is True; images go out as bare base64 and ``info`` is ``Processed.js()``.
Routes added by extensions directly on the app get no ``--api-auth`` protection.

Not modelled: the request ``infotext`` field (ignored), URL images (refused: no network in tests), task
queue/progress endpoints.
"""

from __future__ import annotations

import base64
import io
from contextlib import closing
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from modules import _double_boot, errors, images, processing, scripts, sd_samplers, shared
from modules.api import models
from modules.processing import StableDiffusionProcessingImg2Img, StableDiffusionProcessingTxt2Img, process_images
from modules.shared import opts
from PIL import Image, PngImagePlugin


def script_name_to_index(name: str, scripts_list: list) -> int:
    try:
        return [script.title().lower() for script in scripts_list].index(name.lower())
    except Exception as e:
        raise HTTPException(status_code=422, detail=f"Script '{name}' not found") from e


def validate_sampler_name(name: str) -> str:
    if name not in sd_samplers.all_samplers_map:
        raise HTTPException(status_code=400, detail="Sampler not found")
    return name


def decode_base64_to_image(encoding: str) -> Image.Image:
    """Bare base64 or a ``data:image/...;base64,`` URL. http(s) URLs are refused (tests run offline)."""
    if encoding.startswith(("http://", "https://")):
        if not opts.api_enable_requests:
            raise HTTPException(status_code=500, detail="Requests not allowed")
        raise HTTPException(status_code=500, detail="Invalid image url")
    if encoding.startswith("data:image/"):
        encoding = encoding.split(";")[1].split(",")[1]
    try:
        return images.read(io.BytesIO(base64.b64decode(encoding)))
    except Exception as e:
        raise HTTPException(status_code=500, detail="Invalid encoded image") from e


def encode_pil_to_base64(image: Any) -> bytes:
    """PNG by default (``opts.samples_format``) with string ``image.info`` items as text chunks. Returns
    *bytes*; a str passes through unchanged."""
    if isinstance(image, str):
        return image
    with io.BytesIO() as output:
        fmt = opts.samples_format.lower()
        if fmt == "png":
            meta = PngImagePlugin.PngInfo()
            use_meta = False
            for key, value in image.info.items():
                if isinstance(key, str) and isinstance(value, str):
                    meta.add_text(key, value)
                    use_meta = True
            image.save(output, format="PNG", pnginfo=meta if use_meta else None)
        elif fmt in ("jpg", "jpeg", "webp"):
            if image.mode in ("RGBA", "P"):
                image = image.convert("RGB")
            image.save(output, format="JPEG" if fmt != "webp" else "WEBP", quality=opts.jpeg_quality)
        else:
            raise HTTPException(status_code=500, detail="Invalid image format")
        data = output.getvalue()
    return base64.b64encode(data)


def _dump(model: Any) -> dict:
    return model.model_dump() if hasattr(model, "model_dump") else model.dict()


def api_middleware(app: FastAPI) -> None:
    """Uncaught errors become a JSON 500 (or the HTTPException's status) instead of escaping the app."""

    def handle_exception(e: Exception) -> JSONResponse:
        err = {
            "error": type(e).__name__,
            "detail": getattr(e, "detail", ""),
            "body": "",
            "errors": str(e),
        }
        if not isinstance(e, HTTPException):
            errors.report(f"API error: {e}", exc_info=True)
        return JSONResponse(status_code=getattr(e, "status_code", 500), content=err)

    @app.middleware("http")
    async def exception_handling(request: Request, call_next: Any) -> Any:
        try:
            return await call_next(request)
        except Exception as e:  # noqa: BLE001  (every error becomes a JSON response, as in the WebUI)
            return handle_exception(e)


class Api:
    def __init__(self, app: FastAPI, queue_lock: Any) -> None:
        self.credentials: dict[str, str] = {}
        if shared.cmd_opts.api_auth:
            for auth in shared.cmd_opts.api_auth.split(","):
                user, password = auth.split(":")
                self.credentials[user] = password

        self.app = app
        self.queue_lock = queue_lock
        api_middleware(app)
        self.add_api_route(
            "/sdapi/v1/txt2img", self.text2imgapi, methods=["POST"], response_model=models.TextToImageResponse
        )
        self.add_api_route(
            "/sdapi/v1/img2img", self.img2imgapi, methods=["POST"], response_model=models.ImageToImageResponse
        )
        self.add_api_route("/sdapi/v1/options", self.get_config, methods=["GET"])
        self.add_api_route("/sdapi/v1/options", self.set_config, methods=["POST"])
        self.add_api_route("/sdapi/v1/samplers", self.get_samplers, methods=["GET"])
        self.add_api_route("/sdapi/v1/sd-models", self.get_sd_models, methods=["GET"])
        self.add_api_route(
            "/sdapi/v1/scripts", self.get_scripts_list, methods=["GET"], response_model=models.ScriptsList
        )
        self.add_api_route("/sdapi/v1/script-info", self.get_script_info, methods=["GET"])

        if not scripts.scripts_txt2img.scripts or not scripts.scripts_img2img.scripts:
            # Like the WebUI under --nowebui: the UI is built anyway so args_from/args_to exist.
            from modules import ui

            ui.create_ui()
        self.default_script_arg_txt2img = self.init_default_script_args(scripts.scripts_txt2img)
        self.default_script_arg_img2img = self.init_default_script_args(scripts.scripts_img2img)

    def add_api_route(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        if shared.cmd_opts.api_auth:
            self.app.add_api_route(path, endpoint, dependencies=[Depends(self.auth)], **kwargs)
        else:
            self.app.add_api_route(path, endpoint, **kwargs)

    def auth(self, credentials: HTTPBasicCredentials = Depends(HTTPBasic())) -> bool:  # noqa: B008
        if self.credentials.get(credentials.username) == credentials.password:
            return True
        raise HTTPException(
            status_code=401, detail="Incorrect username or password", headers={"WWW-Authenticate": "Basic"}
        )

    # ----- script arguments ---------------------------------------------------------------------------
    def get_selectable_script(self, script_name: str | None, script_runner: Any) -> tuple[Any, Any]:
        if not script_name:
            return None, None
        idx = script_name_to_index(script_name, script_runner.selectable_scripts)
        return script_runner.selectable_scripts[idx], idx

    def get_script(self, script_name: str | None, script_runner: Any) -> Any:
        if not script_name:
            return None
        return script_runner.scripts[script_name_to_index(script_name, script_runner.scripts)]

    def init_default_script_args(self, script_runner: Any) -> list:
        """``[0, None, …]`` sized to the largest ``args_to``; each script's slots hold its components'
        ``.value`` from a fresh ``ui()`` call (the WebUI calls ``ui()`` twice here: once to test, once to
        read)."""
        import gradio as gr

        last_arg_index = 1
        for script in script_runner.scripts:
            if script.args_to is not None and last_arg_index < script.args_to:
                last_arg_index = script.args_to
        script_args: list = [None] * last_arg_index
        script_args[0] = 0
        with gr.Blocks():
            for script in script_runner.scripts:
                if script.ui(script.is_img2img):
                    values = [elem.value for elem in script.ui(script.is_img2img)]
                    script_args[script.args_from : script.args_to] = values
        return script_args

    def init_script_args(
        self,
        request: Any,
        default_script_args: list,
        selectable_script: Any,
        selectable_idx: int | None,
        script_runner: Any,
    ) -> list:
        script_args = default_script_args.copy()  # shallow: default objects are shared between requests
        if selectable_script:
            script_args[selectable_script.args_from : selectable_script.args_to] = request.script_args
            script_args[0] = selectable_idx + 1
        if request.alwayson_scripts:
            for name, payload in request.alwayson_scripts.items():
                script = self.get_script(name, script_runner)
                if script is None:
                    raise HTTPException(status_code=422, detail=f"always on script {name} not found")
                if script.alwayson is False:
                    raise HTTPException(
                        status_code=422, detail="Cannot have a selectable script in the always on scripts params"
                    )
                if "args" in payload:
                    args = payload["args"]
                    for idx in range(min(script.args_to - script.args_from, len(args))):
                        script_args[script.args_from + idx] = args[idx]
        return script_args

    # ----- generation ---------------------------------------------------------------------------------
    def _prepare(self, req: Any, runner: Any) -> tuple[dict, Any, Any, bool]:
        selectable, selectable_idx = self.get_selectable_script(req.script_name, runner)
        sampler, scheduler = sd_samplers.get_sampler_and_scheduler(req.sampler_name or req.sampler_index, req.scheduler)
        args = _dump(req)
        args["sampler_name"] = validate_sampler_name(sampler)
        args["sampler_index"] = None
        args["do_not_save_samples"] = not req.save_images
        args["do_not_save_grid"] = not req.save_images
        if not args.get("scheduler") and scheduler != "Automatic":
            args["scheduler"] = scheduler
        for key in ("script_name", "script_args", "alwayson_scripts", "infotext", "save_images", "include_init_images"):
            args.pop(key, None)
        send_images = args.pop("send_images", True)
        return args, selectable, selectable_idx, send_images

    def _run(self, p: Any, runner: Any, script_args: list, selectable: Any, job: str) -> Any:
        p.is_api = True
        p.scripts = runner
        try:
            shared.state.begin(job=job)
            if selectable is not None:
                p.script_args = script_args
                processed = runner.run(p, *p.script_args)
            else:
                p.script_args = tuple(script_args)  # alwayson-only runs get an immutable tuple
                processed = process_images(p)
        finally:
            shared.state.end()
            shared.total_tqdm.clear()
        return processed

    def _images_out(self, processed: Any, send_images: bool) -> list[str]:
        if not send_images:
            return []
        out = list(processed.images)
        if _double_boot.is_forge():
            processing.process_extra_images(processed)
            out += processed.extra_images
        return [encode_pil_to_base64(img).decode("ascii") for img in out]

    def text2imgapi(self, txt2imgreq: models.StableDiffusionTxt2ImgProcessingAPI) -> Any:
        runner = scripts.scripts_txt2img
        args, selectable, idx, send_images = self._prepare(txt2imgreq, runner)
        script_args = self.init_script_args(txt2imgreq, self.default_script_arg_txt2img, selectable, idx, runner)
        with self.queue_lock, closing(StableDiffusionProcessingTxt2Img(**args)) as p:
            p.outpath_grids = opts.outdir_txt2img_grids
            p.outpath_samples = opts.outdir_txt2img_samples
            processed = self._run(p, runner, script_args, selectable, "scripts_txt2img")
        return models.TextToImageResponse(
            images=self._images_out(processed, send_images), parameters=_dump(txt2imgreq), info=processed.js()
        )

    def img2imgapi(self, img2imgreq: models.StableDiffusionImg2ImgProcessingAPI) -> Any:
        if img2imgreq.init_images is None:
            raise HTTPException(status_code=404, detail="Init image not found")
        runner = scripts.scripts_img2img
        args, selectable, idx, send_images = self._prepare(img2imgreq, runner)
        mask = img2imgreq.mask
        args["mask"] = decode_base64_to_image(mask) if mask else None
        script_args = self.init_script_args(img2imgreq, self.default_script_arg_img2img, selectable, idx, runner)
        with self.queue_lock, closing(StableDiffusionProcessingImg2Img(**args)) as p:
            p.init_images = [decode_base64_to_image(x) for x in img2imgreq.init_images]
            p.outpath_grids = opts.outdir_img2img_grids
            p.outpath_samples = opts.outdir_img2img_samples
            processed = self._run(p, runner, script_args, selectable, "scripts_img2img")
        params = _dump(img2imgreq)
        if not img2imgreq.include_init_images:
            params["init_images"] = None
            params["mask"] = None
        return models.ImageToImageResponse(
            images=self._images_out(processed, send_images), parameters=params, info=processed.js()
        )

    # ----- listings -----------------------------------------------------------------------------------
    def get_scripts_list(self) -> Any:
        t2i = [s.name for s in scripts.scripts_txt2img.scripts if s.name is not None]
        i2i = [s.name for s in scripts.scripts_img2img.scripts if s.name is not None]
        return models.ScriptsList(txt2img=t2i, img2img=i2i)

    def get_script_info(self) -> list:
        res = []
        for runner in (scripts.scripts_txt2img, scripts.scripts_img2img):
            res += [_dump(s.api_info) for s in runner.scripts if s.api_info is not None]
        return res

    def get_config(self) -> dict:
        return {k: v for k, v in opts.data.items() if k not in opts.restricted_opts}

    def set_config(self, req: dict[str, Any]) -> bool:
        for key, value in req.items():
            opts.set(key, value, is_api=True)
        return True

    def get_samplers(self) -> list[dict]:
        return [{"name": s.name, "aliases": s.aliases, "options": s.options} for s in sd_samplers.samplers]

    def get_sd_models(self) -> list[dict]:
        info = shared.sd_model.sd_checkpoint_info
        return [
            {
                "title": info.title,
                "model_name": info.model_name,
                "hash": info.hash,
                "sha256": info.sha256,
                "filename": info.filename,
                "config": None,
            }
        ]
