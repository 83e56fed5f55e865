"""``modules.processing``: processing objects and ``process_images`` with a deterministic fake sampler.

What is faithful (host-contract §3.3, §3.5, §3.7): the dataclass constructor fields, the ``mask`` →
``image_mask`` move, the ``mask_blur`` property, the ``scripts``/``script_args`` setters that call ``setup``
once, the class-level cond caches, the hook order (``before_process`` → ``process`` → per batch
``before_process_batch`` → ``process_batch`` → ``process_before_every_sampling`` → ``post_sample`` →
``postprocess_batch`` → ``postprocess_batch_list`` → per image ``postprocess_image`` →
``postprocess_maskoverlay`` → composite → ``postprocess_image_after_composite`` → infotext; ``postprocess``
last), the "Only masked" crop/paste-back into the original-size image, and interrupt/skip handling.

What is fake: "sampling". Each image is a solid colour derived from the seed, the prompt, the negative
prompt and ``p.host_double_conditioning`` (a list a fake ControlNet appends to, so units change pixels);
img2img blends that colour into the init image by ``denoising_strength``, inside the mask only, and then changes
every pixel a little, as the VAE's decode does (``vae_round_trip``); the WebUI's overlay puts the unmasked ones
back where the (blurred) inpaint mask is 0, as in the WebUI. Tensors are
numpy arrays: ``postprocess_batch`` gets a (B, 3, H, W) float array in [0, 1] and ``postprocess_batch_list``
a list of (3, H, W) arrays (the WebUI passes torch tensors there). No prompt parsing (extra networks, styles).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from modules import _double_boot, devices, errors, images, infotext_utils, masking, paths, scripts, sd_models, shared
from modules.shared import opts, state
from PIL import Image, ImageOps

opt_C = 4  # noqa: N816  (the WebUI's name)
opt_f = 8


# ----- helpers used by the WebUI and by extensions ------------------------------------------------------
def create_binary_mask(image: Image.Image, round: bool = True) -> Image.Image:
    """An RGBA image whose alpha is not fully opaque yields its alpha (thresholded at 128 when ``round``);
    anything else is simply converted to "L"."""
    if image.mode == "RGBA" and image.getextrema()[-1] != (255, 255):
        alpha = image.split()[-1].convert("L")
        return alpha.point(lambda x: 255 if x > 128 else 0) if round else alpha
    return image.convert("L")


def uncrop(image: Image.Image, dest_size: tuple[int, int], paste_loc: tuple[int, int, int, int]) -> Image.Image:
    x, y, w, h = paste_loc
    base = Image.new("RGBA", dest_size)
    base.paste(images.resize_image(1, image, w, h), (x, y))
    return base


def apply_overlay(image: Image.Image, paste_loc: tuple | None, overlay: Image.Image | None) -> tuple:
    """Paste a crop back to ``paste_loc`` in a canvas of the overlay's (original) size, then lay the
    overlay (the original with the masked area transparent) on top."""
    if overlay is None:
        return image, image.copy()
    if paste_loc is not None:
        image = uncrop(image, (overlay.width, overlay.height), paste_loc)
    original_denoised_image = image.copy()
    image = image.convert("RGBA")
    image.alpha_composite(overlay)
    return image.convert("RGB"), original_denoised_image


def setup_color_correction(image: Image.Image) -> Any:
    return np.asarray(image.convert("RGB"))


def apply_color_correction(correction: Any, original_image: Image.Image) -> Image.Image:
    """Colour correction is not modelled: the image is returned unchanged."""
    return original_image


def get_fixed_seed(seed: Any) -> int:
    if seed == "" or seed is None:
        seed = -1
    elif isinstance(seed, str):
        try:
            seed = int(seed)
        except ValueError:
            seed = -1
    if seed == -1:
        return int(random.randrange(4294967294))
    return seed


def fix_seed(p: StableDiffusionProcessing) -> None:
    p.seed = get_fixed_seed(p.seed)
    p.subseed = get_fixed_seed(p.subseed)


def program_version() -> str:
    return "f2.0.1v1.10.1-previous-669-gdfdcbab6" if _double_boot.is_forge() else "v1.10.1"


def _gaussian_blur_axis(arr: np.ndarray, sigma: int, axis: int) -> np.ndarray:
    # Same kernel size as the WebUI's cv2.GaussianBlur call; reflect-101 borders like cv2's default.
    size = 2 * int(2.5 * sigma + 0.5) + 1
    x = np.arange(size) - size // 2
    kernel = np.exp(-(x**2) / (2.0 * sigma**2))
    kernel /= kernel.sum()
    pad = [(0, 0)] * arr.ndim
    pad[axis] = (size // 2, size // 2)
    padded = np.pad(arr.astype(np.float32), pad, mode="reflect")
    out = np.zeros(arr.shape, dtype=np.float32)
    n = arr.shape[axis]
    for i, weight in enumerate(kernel):
        out += weight * np.take(padded, range(i, i + n), axis=axis)
    return out


def _blur_mask(mask: Image.Image, blur_x: int, blur_y: int) -> Image.Image:
    arr = np.asarray(mask, dtype=np.float32)
    if blur_x > 0:
        arr = _gaussian_blur_axis(arr, blur_x, axis=1)
    if blur_y > 0:
        arr = _gaussian_blur_axis(arr, blur_y, axis=0)
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def fake_color(
    p: StableDiffusionProcessing, seed: int, prompt: str, negative_prompt: str, salt: str = ""
) -> np.ndarray:
    """The RGB colour (floats in [0, 1]) the fake sampler paints for one image."""
    conditioning = [str(x) for x in getattr(p, "host_double_conditioning", [])]
    key = json.dumps([int(seed), str(prompt), str(negative_prompt), conditioning, salt])
    digest = hashlib.sha256(key.encode("utf8")).digest()
    return np.frombuffer(digest[:3], dtype=np.uint8).astype(np.float32) / 255.0


# How far the fake VAE moves every value (of 255): enough to survive rounding to uint8 at any size.
VAE_SHIFT = 3 / 255


def vae_round_trip(samples: np.ndarray) -> np.ndarray:
    """img2img's decode: the real VAE never gives back the pixels it encoded, masked or not, so every value moves
    by ``VAE_SHIFT`` towards mid-grey (never clipped). Without this the unmasked pixels would come back exact at
    the photo's size, and a test there could not tell Garment Studio's composite from no composite at all."""
    return np.where(samples >= 0.5, samples - VAE_SHIFT, samples + VAE_SHIFT).astype(np.float32)


def _fake_latents(seeds: list[int], width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng([int(s) % (2**32) for s in seeds] or [0])
    return rng.standard_normal((len(seeds), opt_C, max(height // opt_f, 1), max(width // opt_f, 1))).astype(np.float32)


# ----- processing objects -------------------------------------------------------------------------------
@dataclass(repr=False)
class StableDiffusionProcessing:
    sd_model: object = None
    outpath_samples: str = None
    outpath_grids: str = None
    prompt: str = ""
    prompt_for_display: str = None
    negative_prompt: str = ""
    styles: list = None
    seed: int = -1
    subseed: int = -1
    subseed_strength: float = 0
    seed_resize_from_h: int = -1
    seed_resize_from_w: int = -1
    seed_enable_extras: bool = True
    sampler_name: str = None
    scheduler: str = None
    batch_size: int = 1
    n_iter: int = 1
    steps: int = 50
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    restore_faces: bool = None
    tiling: bool = None
    do_not_save_samples: bool = False
    do_not_save_grid: bool = False
    extra_generation_params: dict = None
    overlay_images: list = None
    eta: float = None
    do_not_reload_embeddings: bool = False
    denoising_strength: float = None
    ddim_discretize: str = None
    s_min_uncond: float = None
    s_churn: float = None
    s_tmax: float = None
    s_tmin: float = None
    s_noise: float = None
    override_settings: dict = None
    override_settings_restore_afterwards: bool = True
    sampler_index: int = None
    refiner_checkpoint: str = None
    refiner_switch_at: float = None
    token_merging_ratio = 0
    token_merging_ratio_hr = 0
    disable_extra_networks: bool = False
    firstpass_image: Any = None

    scripts_value: Any = field(default=None, init=False)
    script_args_value: Any = field(default=None, init=False)
    scripts_setup_complete: bool = field(default=False, init=False)

    # Class-level and shared by every instance unless an instance assigns its own (host-contract §3.5).
    cached_uc = [None, None]  # noqa: RUF012
    cached_c = [None, None]  # noqa: RUF012

    comments: dict = None
    sampler: Any = field(default=None, init=False)
    is_using_inpainting_conditioning: bool = field(default=False, init=False)
    paste_to: tuple = field(default=None, init=False)
    is_hr_pass: bool = field(default=False, init=False)
    c: Any = field(default=None, init=False)
    uc: Any = field(default=None, init=False)
    rng: Any = field(default=None, init=False)
    step_multiplier: int = field(default=1, init=False)
    color_corrections: list = field(default=None, init=False)
    all_prompts: list = field(default=None, init=False)
    all_negative_prompts: list = field(default=None, init=False)
    all_seeds: list = field(default=None, init=False)
    all_subseeds: list = field(default=None, init=False)
    iteration: int = field(default=0, init=False)
    main_prompt: str = field(default=None, init=False)
    main_negative_prompt: str = field(default=None, init=False)
    prompts: list = field(default=None, init=False)
    negative_prompts: list = field(default=None, init=False)
    seeds: list = field(default=None, init=False)
    subseeds: list = field(default=None, init=False)
    extra_network_data: dict = field(default=None, init=False)
    user: str = field(default=None, init=False)
    sd_model_name: str = field(default=None, init=False)
    sd_model_hash: str = field(default=None, init=False)
    sd_vae_name: str = field(default=None, init=False)
    sd_vae_hash: str = field(default=None, init=False)
    is_api: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.comments = {}
        if self.styles is None:
            self.styles = []
        self.sampler_noise_scheduler_override = None
        self.extra_generation_params = self.extra_generation_params or {}
        self.override_settings = self.override_settings or {}
        # The WebUI starts script_args as an empty dict (falsy), so the setter does not run setup yet.
        self.script_args = self.script_args or {}
        self.refiner_checkpoint_info = None
        if not self.seed_enable_extras:
            self.subseed = -1
            self.subseed_strength = 0
            self.seed_resize_from_h = 0
            self.seed_resize_from_w = 0
        self.cached_uc = StableDiffusionProcessing.cached_uc
        self.cached_c = StableDiffusionProcessing.cached_c
        # Double only: what the fake sampler mixes into its colours (see fake_color).
        self.host_double_conditioning: list[str] = []
        if _double_boot.is_forge():
            self.extra_result_images = []  # Forge: extra outputs such as ControlNet maps (host-contract §5b)

    # sd_model: the setter is a no-op and the getter always returns shared.sd_model (host-contract §3.5).
    @property
    def sd_model(self) -> Any:  # noqa: F811  (replaces the field's default on purpose)
        return shared.sd_model

    @sd_model.setter
    def sd_model(self, value: Any) -> None:
        pass

    @property
    def scripts(self) -> Any:
        return self.scripts_value

    @scripts.setter
    def scripts(self, value: Any) -> None:
        self.scripts_value = value
        if self.scripts_value and self.script_args_value and not self.scripts_setup_complete:
            self.setup_scripts()

    @property
    def script_args(self) -> Any:
        return self.script_args_value

    @script_args.setter
    def script_args(self, value: Any) -> None:
        self.script_args_value = value
        if self.scripts_value and self.script_args_value and not self.scripts_setup_complete:
            self.setup_scripts()

    def setup_scripts(self) -> None:
        self.scripts_setup_complete = True
        self.scripts.setup_scrips(self, is_ui=not self.is_api)

    def comment(self, text: str) -> None:
        self.comments[text] = 1

    def fill_fields_from_opts(self) -> None:
        self.s_min_uncond = self.s_min_uncond if self.s_min_uncond is not None else opts.s_min_uncond
        self.s_churn = self.s_churn if self.s_churn is not None else opts.s_churn
        self.s_tmin = self.s_tmin if self.s_tmin is not None else opts.s_tmin
        self.s_tmax = (self.s_tmax if self.s_tmax is not None else opts.s_tmax) or float("inf")
        self.s_noise = self.s_noise if self.s_noise is not None else opts.s_noise

    def init(self, all_prompts: list, all_seeds: list, all_subseeds: list) -> None:
        pass

    def sample(
        self,
        conditioning: Any,
        unconditional_conditioning: Any,
        seeds: list,
        subseeds: list,
        subseed_strength: float,
        prompts: list,
    ) -> list[np.ndarray]:
        raise NotImplementedError()

    def close(self) -> None:
        self.sampler = None
        self.c = None
        self.uc = None
        if not opts.persistent_cond_cache:
            StableDiffusionProcessing.cached_c = [None, None]
            StableDiffusionProcessing.cached_uc = [None, None]

    def get_token_merging_ratio(self, for_hr: bool = False) -> float:
        if for_hr:
            return (
                self.token_merging_ratio_hr
                or opts.token_merging_ratio_hr
                or self.token_merging_ratio
                or opts.token_merging_ratio
            )
        return self.token_merging_ratio or opts.token_merging_ratio

    def setup_prompts(self) -> None:
        if isinstance(self.prompt, list):
            self.all_prompts = self.prompt
        elif isinstance(self.negative_prompt, list):
            self.all_prompts = [self.prompt] * len(self.negative_prompt)
        else:
            self.all_prompts = self.batch_size * self.n_iter * [self.prompt]
        if isinstance(self.negative_prompt, list):
            self.all_negative_prompts = self.negative_prompt
        else:
            self.all_negative_prompts = [self.negative_prompt] * len(self.all_prompts)
        if len(self.all_prompts) != len(self.all_negative_prompts):
            raise RuntimeError(
                f"Received a different number of prompts ({len(self.all_prompts)}) "
                f"and negative prompts ({len(self.all_negative_prompts)})"
            )
        self.all_prompts = [shared.prompt_styles.apply_styles_to_prompt(x, self.styles) for x in self.all_prompts]
        self.all_negative_prompts = [
            shared.prompt_styles.apply_negative_styles_to_prompt(x, self.styles) for x in self.all_negative_prompts
        ]
        self.main_prompt = self.all_prompts[0]
        self.main_negative_prompt = self.all_negative_prompts[0]

    def parse_extra_network_prompts(self) -> None:
        """Extra-network tags (``<lora:…>``) are left in the prompts: the double has no networks."""
        self.extra_network_data = {}

    def setup_conds(self) -> None:
        self.c = list(self.prompts)
        self.uc = list(self.negative_prompts)

    def get_conds(self) -> tuple:
        return self.c, self.uc

    def save_samples(self) -> bool:
        return bool(
            opts.samples_save
            and not self.do_not_save_samples
            and (opts.save_incomplete_images or (not state.interrupted and not state.skipped))
        )


@dataclass(repr=False)
class StableDiffusionProcessingTxt2Img(StableDiffusionProcessing):
    enable_hr: bool = False
    denoising_strength: float = 0.75
    firstphase_width: int = 0
    firstphase_height: int = 0
    hr_scale: float = 2.0
    hr_upscaler: str = None
    hr_second_pass_steps: int = 0
    hr_resize_x: int = 0
    hr_resize_y: int = 0
    hr_checkpoint_name: str = None
    hr_sampler_name: str = None
    hr_scheduler: str = None
    hr_prompt: str = ""
    hr_negative_prompt: str = ""
    force_task_id: str = None

    cached_hr_uc = [None, None]  # noqa: RUF012
    cached_hr_c = [None, None]  # noqa: RUF012

    hr_checkpoint_info: dict = field(default=None, init=False)
    hr_upscale_to_x: int = field(default=0, init=False)
    hr_upscale_to_y: int = field(default=0, init=False)
    truncate_x: int = field(default=0, init=False)
    truncate_y: int = field(default=0, init=False)
    applied_old_hires_behavior_to: tuple = field(default=None, init=False)
    latent_scale_mode: dict = field(default=None, init=False)
    hr_c: Any = field(default=None, init=False)
    hr_uc: Any = field(default=None, init=False)
    all_hr_prompts: list = field(default=None, init=False)
    all_hr_negative_prompts: list = field(default=None, init=False)
    hr_prompts: list = field(default=None, init=False)
    hr_negative_prompts: list = field(default=None, init=False)
    hr_extra_network_data: list = field(default=None, init=False)

    def init(self, all_prompts: list, all_seeds: list, all_subseeds: list) -> None:
        if not self.enable_hr:
            return
        if self.hr_resize_x == 0 and self.hr_resize_y == 0:
            self.extra_generation_params["Hires upscale"] = self.hr_scale
            self.hr_upscale_to_x = int(self.width * self.hr_scale)
            self.hr_upscale_to_y = int(self.height * self.hr_scale)
        else:
            self.extra_generation_params["Hires resize"] = f"{self.hr_resize_x}x{self.hr_resize_y}"
            self.hr_upscale_to_x = self.hr_resize_x or self.hr_resize_y * self.width // self.height
            self.hr_upscale_to_y = self.hr_resize_y or self.hr_resize_x * self.height // self.width
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        if self.hr_second_pass_steps:
            self.extra_generation_params["Hires steps"] = self.hr_second_pass_steps
        if self.hr_upscaler is not None:
            self.extra_generation_params["Hires upscaler"] = self.hr_upscaler

    def setup_prompts(self) -> None:
        super().setup_prompts()
        if not self.enable_hr:
            return
        self.hr_prompt = self.hr_prompt or self.prompt
        self.hr_negative_prompt = self.hr_negative_prompt or self.negative_prompt
        self.all_hr_prompts = self.batch_size * self.n_iter * [self.hr_prompt]
        self.all_hr_negative_prompts = self.batch_size * self.n_iter * [self.hr_negative_prompt]

    def sample(
        self,
        conditioning: Any,
        unconditional_conditioning: Any,
        seeds: list,
        subseeds: list,
        subseed_strength: float,
        prompts: list,
    ) -> list[np.ndarray]:
        x = _fake_latents(seeds, self.width, self.height)
        if self.scripts is not None:
            self.scripts.process_before_every_sampling(
                p=self, x=x, noise=x, c=conditioning, uc=unconditional_conditioning
            )
        negatives = self.negative_prompts or [""] * len(seeds)
        samples = []
        for seed, prompt, negative in zip(seeds, prompts, negatives, strict=False):
            color = fake_color(self, seed, prompt, negative)
            samples.append(np.broadcast_to(color[:, None, None], (3, self.height, self.width)).copy())
        if not self.enable_hr:
            return samples
        return self.sample_hr_pass(samples, seeds, prompts)

    def sample_hr_pass(self, samples: list[np.ndarray], seeds: list, prompts: list) -> list[np.ndarray]:
        self.is_hr_pass = True
        self.hr_c, self.hr_uc = list(prompts), list(self.negative_prompts or [])
        noise = _fake_latents(seeds, self.hr_upscale_to_x, self.hr_upscale_to_y)
        if self.scripts is not None:
            self.scripts.before_hr(self)
            self.scripts.process_before_every_sampling(p=self, x=noise, noise=noise, c=self.hr_c, uc=self.hr_uc)
        result = []
        for seed, prompt, sample in zip(seeds, prompts, samples, strict=False):
            img = Image.fromarray((np.moveaxis(sample, 0, 2) * 255).astype(np.uint8))
            img = img.resize((self.hr_upscale_to_x, self.hr_upscale_to_y))
            arr = np.moveaxis(np.asarray(img, dtype=np.float32) / 255.0, 2, 0)
            hr_color = fake_color(self, seed, self.hr_prompt or prompt, self.hr_negative_prompt, salt="hires")
            d = float(self.denoising_strength)
            result.append(arr * (1 - d) + hr_color[:, None, None] * d)
        self.is_hr_pass = False
        return result

    def close(self) -> None:
        super().close()
        self.hr_c = None
        self.hr_uc = None
        if not opts.persistent_cond_cache:
            StableDiffusionProcessingTxt2Img.cached_hr_uc = [None, None]
            StableDiffusionProcessingTxt2Img.cached_hr_c = [None, None]


@dataclass(repr=False)
class StableDiffusionProcessingImg2Img(StableDiffusionProcessing):
    init_images: list = None
    resize_mode: int = 0
    denoising_strength: float = 0.75
    image_cfg_scale: float = None
    mask: Any = None
    mask_blur_x: int = 4
    mask_blur_y: int = 4
    mask_blur: int = None
    mask_round: bool = True
    inpainting_fill: int = 0
    inpaint_full_res: bool = True
    inpaint_full_res_padding: int = 0
    inpainting_mask_invert: int = 0
    initial_noise_multiplier: float = None
    latent_mask: Any = None
    force_task_id: str = None

    image_mask: Any = field(default=None, init=False)
    nmask: Any = field(default=None, init=False)
    image_conditioning: Any = field(default=None, init=False)
    init_img_hash: str = field(default=None, init=False)
    mask_for_overlay: Any = field(default=None, init=False)
    init_latent: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        # The constructor's `mask` becomes `image_mask`; `mask` is reused for the latent mask later.
        self.image_mask = self.mask
        self.mask = None
        if self.initial_noise_multiplier is None:
            self.initial_noise_multiplier = opts.initial_noise_multiplier

    # Declared after the `mask_blur` field on purpose: the property replaces the field's default, so the
    # constructor passes the property object itself, which the setter ignores (only ints are taken).
    @property
    def mask_blur(self) -> int | None:  # noqa: F811  (see above)
        if self.mask_blur_x == self.mask_blur_y:
            return self.mask_blur_x
        return None

    @mask_blur.setter
    def mask_blur(self, value: Any) -> None:
        if isinstance(value, int):
            self.mask_blur_x = value
            self.mask_blur_y = value

    def init(self, all_prompts: list, all_seeds: list, all_subseeds: list) -> None:
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        self.image_cfg_scale = None  # only "edit" (instruct-pix2pix) models use it
        image_mask, crop_region = self._prepare_mask()
        latent_mask = self.latent_mask if self.latent_mask is not None else image_mask
        imgs = [self._prepare_init_image(img, image_mask, latent_mask, crop_region) for img in self.init_images]

        if len(imgs) == 1:
            batch = np.repeat(imgs[0][None], self.batch_size, axis=0)
            if self.overlay_images is not None:
                self.overlay_images = self.overlay_images * self.batch_size
        elif len(imgs) <= self.batch_size:
            self.batch_size = len(imgs)
            batch = np.stack(imgs)
        else:
            raise RuntimeError(f"bad number of images passed: {len(imgs)}; expecting {self.batch_size} or less")
        # Stand-in for the VAE latent: the init pixels at the generation size, (B, 3, H, W) in [0, 1].
        self.init_latent = batch

        if image_mask is not None:
            latmask = np.asarray(latent_mask.convert("RGB").resize((self.width, self.height)), dtype=np.float32)
            latmask = latmask[:, :, 0] / 255.0
            if self.mask_round:
                latmask = np.around(latmask)
            self.mask = 1.0 - latmask
            self.nmask = latmask
            if self.inpainting_fill == 2:
                self.extra_generation_params["Masked content"] = "latent noise"
            elif self.inpainting_fill == 3:
                self.extra_generation_params["Masked content"] = "latent nothing"

    def _prepare_mask(self) -> tuple[Image.Image | None, tuple | None]:
        """Binarise, invert, blur; in "Only masked" mode find the crop region and set ``paste_to``."""
        if self.image_mask is None:
            return None, None
        image_mask = create_binary_mask(self.image_mask, round=self.mask_round)
        if self.inpainting_mask_invert:
            image_mask = ImageOps.invert(image_mask)
            self.extra_generation_params["Mask mode"] = "Inpaint not masked"
        if self.mask_blur_x > 0 or self.mask_blur_y > 0:
            image_mask = _blur_mask(image_mask, self.mask_blur_x, self.mask_blur_y)
            self.extra_generation_params["Mask blur"] = self.mask_blur
        self.overlay_images = []

        if not self.inpaint_full_res:
            image_mask = images.resize_image(self.resize_mode, image_mask, self.width, self.height)
            np_mask = np.clip(np.asarray(image_mask).astype(np.float32) * 2, 0, 255).astype(np.uint8)
            self.mask_for_overlay = Image.fromarray(np_mask)
            return image_mask, None

        self.mask_for_overlay = image_mask
        mask = image_mask.convert("L")
        crop_region = masking.get_crop_region_v2(mask, self.inpaint_full_res_padding)
        if not crop_region:
            # A blank mask silently falls back to whole-image img2img (host-contract §3.5).
            self.mask_for_overlay = None
            self.inpaint_full_res = False
            self.comment('Unable to perform "Inpaint Only mask" because mask is blank, switch to img2img mode.')
            return None, None
        crop_region = masking.expand_crop_region(crop_region, self.width, self.height, mask.width, mask.height)
        x1, y1, x2, y2 = crop_region
        self.paste_to = (x1, y1, x2 - x1, y2 - y1)
        self.extra_generation_params["Inpaint area"] = "Only masked"
        self.extra_generation_params["Masked area padding"] = self.inpaint_full_res_padding
        return images.resize_image(2, mask.crop(crop_region), self.width, self.height), crop_region

    def _prepare_init_image(
        self, img: Image.Image, image_mask: Image.Image | None, latent_mask: Any, crop_region: tuple | None
    ) -> np.ndarray:
        """One init image at the generation size (cropped in "Only masked" mode), as (3, H, W) floats; also
        records its overlay (the original with the masked area transparent)."""
        image = images.flatten(img, opts.img2img_background_color)
        if crop_region is None:
            # resize_mode 3 resizes the latent in the WebUI; the double resizes the pixels instead.
            image = images.resize_image(
                0 if self.resize_mode == 3 else self.resize_mode, image, self.width, self.height
            )
        if image_mask is not None:
            if self.mask_for_overlay.size != (image.width, image.height):
                self.mask_for_overlay = images.resize_image(
                    self.resize_mode, self.mask_for_overlay, image.width, image.height
                )
            overlay = image.convert("RGBA")
            overlay.putalpha(ImageOps.invert(self.mask_for_overlay.convert("L")))
            self.overlay_images.append(overlay)
        if crop_region is not None:
            image = images.resize_image(2, image.crop(crop_region), self.width, self.height)
        if image_mask is not None and self.inpainting_fill != 1:
            image = masking.fill(image, latent_mask)
            if self.inpainting_fill == 0:
                self.extra_generation_params["Masked content"] = "fill"
        return np.moveaxis(np.asarray(image, dtype=np.float32) / 255.0, 2, 0)

    def sample(
        self,
        conditioning: Any,
        unconditional_conditioning: Any,
        seeds: list,
        subseeds: list,
        subseed_strength: float,
        prompts: list,
    ) -> list[np.ndarray]:
        x = _fake_latents(seeds, self.width, self.height)
        if self.initial_noise_multiplier != 1.0:
            self.extra_generation_params["Noise multiplier"] = self.initial_noise_multiplier
            x = x * self.initial_noise_multiplier
        if self.scripts is not None:
            self.scripts.process_before_every_sampling(
                p=self, x=self.init_latent, noise=x, c=conditioning, uc=unconditional_conditioning
            )
        negatives = self.negative_prompts or [""] * len(seeds)
        d = float(self.denoising_strength)
        samples = []
        for i, (seed, prompt, negative) in enumerate(zip(seeds, prompts, negatives, strict=False)):
            init = self.init_latent[i % len(self.init_latent)]
            color = fake_color(self, seed, prompt, negative)
            samples.append(init * (1.0 - d) + color[:, None, None] * d)
        samples_arr = np.stack(samples)
        if self.mask is not None:
            init = self.init_latent[: len(samples_arr)]
            blended = samples_arr * self.nmask + init * self.mask
            if self.scripts is not None:
                mba = scripts.MaskBlendArgs(samples_arr, self.nmask, init, self.mask, blended)
                self.scripts.on_mask_blend(self, mba)
                blended = mba.blended_latent
            samples_arr = blended
        return list(vae_round_trip(samples_arr))


# ----- results ------------------------------------------------------------------------------------------
class Processed:
    def __init__(
        self,
        p: StableDiffusionProcessing,
        images_list: list,
        seed: int = -1,
        info: str = "",
        subseed: int | None = None,
        all_prompts: list | None = None,
        all_negative_prompts: list | None = None,
        all_seeds: list | None = None,
        all_subseeds: list | None = None,
        index_of_first_image: int = 0,
        infotexts: list | None = None,
        comments: str = "",
        extra_images_list: list | None = None,
    ) -> None:
        self.images = images_list
        if _double_boot.is_forge():
            self.extra_images = list(extra_images_list or [])
        self.prompt = p.prompt
        self.negative_prompt = p.negative_prompt
        self.seed = seed
        self.subseed = subseed
        self.subseed_strength = p.subseed_strength
        self.info = info
        self.comments = "".join(f"{comment}\n" for comment in p.comments)
        self.width = p.width
        self.height = p.height
        self.sampler_name = p.sampler_name
        self.cfg_scale = p.cfg_scale
        self.image_cfg_scale = getattr(p, "image_cfg_scale", None)
        self.steps = p.steps
        self.batch_size = p.batch_size
        self.restore_faces = p.restore_faces
        self.face_restoration_model = opts.face_restoration_model if p.restore_faces else None
        self.sd_model_name = p.sd_model_name
        self.sd_model_hash = p.sd_model_hash
        self.sd_vae_name = p.sd_vae_name
        self.sd_vae_hash = p.sd_vae_hash
        self.seed_resize_from_w = p.seed_resize_from_w
        self.seed_resize_from_h = p.seed_resize_from_h
        self.denoising_strength = getattr(p, "denoising_strength", None)
        self.extra_generation_params = p.extra_generation_params
        self.index_of_first_image = index_of_first_image
        self.styles = p.styles
        self.job_timestamp = state.job_timestamp
        self.clip_skip = opts.CLIP_stop_at_last_layers
        self.token_merging_ratio = p.token_merging_ratio
        self.token_merging_ratio_hr = p.token_merging_ratio_hr
        self.eta = p.eta
        self.ddim_discretize = p.ddim_discretize
        self.s_churn = p.s_churn
        self.s_tmin = p.s_tmin
        self.s_tmax = p.s_tmax
        self.s_noise = p.s_noise
        self.s_min_uncond = p.s_min_uncond
        self.sampler_noise_scheduler_override = p.sampler_noise_scheduler_override
        self.prompt = self.prompt if not isinstance(self.prompt, list) else self.prompt[0]
        self.negative_prompt = (
            self.negative_prompt if not isinstance(self.negative_prompt, list) else self.negative_prompt[0]
        )
        self.seed = int(self.seed if not isinstance(self.seed, list) else self.seed[0]) if self.seed is not None else -1
        self.subseed = (
            int(self.subseed if not isinstance(self.subseed, list) else self.subseed[0])
            if self.subseed is not None
            else -1
        )
        self.is_using_inpainting_conditioning = p.is_using_inpainting_conditioning
        self.all_prompts = all_prompts or p.all_prompts or [self.prompt]
        self.all_negative_prompts = all_negative_prompts or p.all_negative_prompts or [self.negative_prompt]
        self.all_seeds = all_seeds or p.all_seeds or [self.seed]
        self.all_subseeds = all_subseeds or p.all_subseeds or [self.subseed]
        self.infotexts = infotexts or [info] * len(images_list)
        self.version = program_version()

    def js(self) -> str:
        obj = {
            "prompt": self.all_prompts[0],
            "all_prompts": self.all_prompts,
            "negative_prompt": self.all_negative_prompts[0],
            "all_negative_prompts": self.all_negative_prompts,
            "seed": self.seed,
            "all_seeds": self.all_seeds,
            "subseed": self.subseed,
            "all_subseeds": self.all_subseeds,
            "subseed_strength": self.subseed_strength,
            "width": self.width,
            "height": self.height,
            "sampler_name": self.sampler_name,
            "cfg_scale": self.cfg_scale,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "restore_faces": self.restore_faces,
            "face_restoration_model": self.face_restoration_model,
            "sd_model_name": self.sd_model_name,
            "sd_model_hash": self.sd_model_hash,
            "sd_vae_name": self.sd_vae_name,
            "sd_vae_hash": self.sd_vae_hash,
            "seed_resize_from_w": self.seed_resize_from_w,
            "seed_resize_from_h": self.seed_resize_from_h,
            "denoising_strength": self.denoising_strength,
            "extra_generation_params": self.extra_generation_params,
            "index_of_first_image": self.index_of_first_image,
            "infotexts": self.infotexts,
            "styles": self.styles,
            "job_timestamp": self.job_timestamp,
            "clip_skip": self.clip_skip,
            "is_using_inpainting_conditioning": self.is_using_inpainting_conditioning,
            "version": self.version,
        }
        # Like the WebUI: anything json cannot encode (callables, images) becomes null.
        return json.dumps(obj, default=lambda o: None)

    def infotext(self, p: StableDiffusionProcessing, index: int) -> str:
        return create_infotext(
            p,
            self.all_prompts,
            self.all_seeds,
            self.all_subseeds,
            comments=[],
            position_in_batch=index % self.batch_size,
            iteration=index // self.batch_size,
        )

    def get_token_merging_ratio(self, for_hr: bool = False) -> float:
        return self.token_merging_ratio_hr if for_hr else self.token_merging_ratio


def process_extra_images(processed: Processed) -> None:
    """Forge: keep only images among ``extra_images`` (ndarrays are converted), for the API response."""
    converted = [Image.fromarray(x) if isinstance(x, np.ndarray) else x for x in getattr(processed, "extra_images", [])]
    processed.extra_images = [x for x in converted if isinstance(x, Image.Image)]


def create_infotext(
    p: StableDiffusionProcessing,
    all_prompts: list,
    all_seeds: list,
    all_subseeds: list,
    comments: Any = None,
    iteration: int = 0,
    position_in_batch: int = 0,
    use_main_prompt: bool = False,
    index: int | None = None,
    all_negative_prompts: list | None = None,
) -> str:
    """``prompt``, ``Negative prompt: …`` and one line of ``Key: value`` pairs, where keys from
    ``p.extra_generation_params`` follow the built-in ones. A value may be ``None`` (omitted), a list (indexed
    per image) or a callable ``f(**locals())``."""
    if use_main_prompt:
        index = 0
    elif index is None:
        index = position_in_batch + iteration * p.batch_size
    if all_negative_prompts is None:
        all_negative_prompts = p.all_negative_prompts

    clip_skip = getattr(p, "clip_skip", opts.CLIP_stop_at_last_layers)
    prompt_text = p.main_prompt if use_main_prompt else all_prompts[index]
    negative_prompt = p.main_negative_prompt if use_main_prompt else all_negative_prompts[index]

    generation_params = {
        "Steps": p.steps,
        "Sampler": p.sampler_name,
        "Schedule type": p.scheduler,
        "CFG scale": p.cfg_scale,
        "Image CFG scale": getattr(p, "image_cfg_scale", None),
        "Seed": p.all_seeds[0] if use_main_prompt else all_seeds[index],
        "Face restoration": opts.face_restoration_model if p.restore_faces else None,
        "Size": f"{p.width}x{p.height}",
        "Model hash": p.sd_model_hash if opts.add_model_hash_to_info else None,
        "Model": p.sd_model_name if opts.add_model_name_to_info else None,
        "Variation seed": None
        if p.subseed_strength == 0
        else (p.all_subseeds[0] if use_main_prompt else all_subseeds[index]),
        "Variation seed strength": None if p.subseed_strength == 0 else p.subseed_strength,
        "Seed resize from": None
        if p.seed_resize_from_w <= 0 or p.seed_resize_from_h <= 0
        else f"{p.seed_resize_from_w}x{p.seed_resize_from_h}",
        "Denoising strength": p.extra_generation_params.get("Denoising strength"),
        "Clip skip": None if clip_skip <= 1 else clip_skip,
        "Tiling": "True" if p.tiling else None,
        **p.extra_generation_params,
        "Version": program_version() if opts.add_version_to_infotext else None,
        "User": p.user if opts.add_user_name_to_info else None,
    }
    callable_kwargs = {
        "p": p,
        "index": index,
        "all_prompts": all_prompts,
        "all_seeds": all_seeds,
        "all_subseeds": all_subseeds,
        "iteration": iteration,
        "position_in_batch": position_in_batch,
        "use_main_prompt": use_main_prompt,
    }
    for key, value in generation_params.items():
        try:
            if isinstance(value, list):
                generation_params[key] = value[index]
            elif callable(value):
                generation_params[key] = value(**callable_kwargs)
        except Exception:  # noqa: BLE001, PERF203  (a bad key is reported and left out, like the WebUI)
            errors.report(f'Error creating infotext for key "{key}"', exc_info=True)
            generation_params[key] = None

    params_text = ", ".join(
        k if k == v else f"{k}: {infotext_utils.quote(v)}" for k, v in generation_params.items() if v is not None
    )
    negative_text = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    return f"{prompt_text}{negative_text}\n{params_text}".strip()


# ----- the pipeline -------------------------------------------------------------------------------------
def process_images(p: StableDiffusionProcessing) -> Processed:
    """``before_process`` runs before ``override_settings`` are applied; the options are restored after."""
    if p.scripts is not None:
        p.scripts.before_process(p)

    stored_opts = {k: opts.data[k] for k in p.override_settings if k in opts.data}
    try:
        if sd_models.checkpoint_aliases.get(p.override_settings.get("sd_model_checkpoint")) is None:
            p.override_settings.pop("sd_model_checkpoint", None)
        for k, v in p.override_settings.items():
            opts.set(k, v, is_api=True, run_callbacks=False)
        res = process_images_inner(p)
    finally:
        if p.override_settings_restore_afterwards:
            for k, v in stored_opts.items():
                setattr(opts, k, v)
    return res


def _infotext_for(p: StableDiffusionProcessing, index: int = 0, use_main_prompt: bool = False) -> str:
    return create_infotext(
        p,
        p.prompts,
        p.seeds,
        p.subseeds,
        use_main_prompt=use_main_prompt,
        index=index,
        all_negative_prompts=p.negative_prompts,
    )


def _finish_image(p: StableDiffusionProcessing, i: int, x_sample: Any, save_samples: bool) -> tuple[str, list]:
    """One decoded sample → ``postprocess_image`` → mask overlay hooks → paste-back composite →
    ``postprocess_image_after_composite`` → save → infotext. Returns the infotext and the output images."""
    arr = np.clip(255.0 * np.moveaxis(np.asarray(x_sample, dtype=np.float32), 0, 2), 0, 255)
    image = Image.fromarray(np.rint(arr).astype(np.uint8))

    if p.scripts is not None:
        pp = scripts.PostprocessImageArgs(image)
        p.scripts.postprocess_image(p, pp)
        image = pp.image

    mask_for_overlay = getattr(p, "mask_for_overlay", None)
    overlay_image = None
    if opts.overlay_inpaint and getattr(p, "overlay_images", None) is not None and i < len(p.overlay_images):
        overlay_image = p.overlay_images[i]
    if p.scripts is not None:
        ppmo = scripts.PostProcessMaskOverlayArgs(i, mask_for_overlay, overlay_image)
        p.scripts.postprocess_maskoverlay(p, ppmo)
        mask_for_overlay, overlay_image = ppmo.mask_for_overlay, ppmo.overlay_image

    image, original_denoised_image = apply_overlay(image, p.paste_to, overlay_image)

    if p.scripts is not None:
        pp = scripts.PostprocessImageArgs(image)
        p.scripts.postprocess_image_after_composite(p, pp)
        image = pp.image

    text = _infotext_for(p, i)
    if save_samples:
        images.save_image(image, p.outpath_samples, "", p.seeds[i], p.prompts[i], opts.samples_format, info=text, p=p)
    if opts.enable_pnginfo:
        image.info["parameters"] = text
    produced = [image]
    if mask_for_overlay is not None and opts.return_mask:
        produced.append(mask_for_overlay.convert("RGB"))
    if mask_for_overlay is not None and opts.return_mask_composite:
        mask = images.resize_image(2, mask_for_overlay, image.width, image.height).convert("L")
        produced.append(Image.composite(original_denoised_image.convert("RGBA"), Image.new("RGBA", image.size), mask))
    return text, produced


def _add_grid(p: StableDiffusionProcessing, output_images: list, infotexts: list[str]) -> int:
    """Grid first in the outputs when asked for and there are several images; the API sets
    ``do_not_save_grid`` so it never gets one. Returns ``index_of_first_image``."""
    unwanted_grid = len(output_images) < 2 and opts.grid_only_if_multiple
    if not (opts.return_grid or opts.grid_save) or p.do_not_save_grid or unwanted_grid:
        return 0
    grid = images.image_grid(output_images, p.batch_size)
    text = _infotext_for(p, use_main_prompt=True)
    if opts.grid_save:
        images.save_image(
            grid, p.outpath_grids, "grid", p.all_seeds[0], p.all_prompts[0], opts.grid_format, info=text, p=p, grid=True
        )
    if not opts.return_grid:
        return 0
    infotexts.insert(0, text)
    if opts.enable_pnginfo:
        grid.info["parameters"] = text
    output_images.insert(0, grid)
    return 1


def process_images_inner(p: StableDiffusionProcessing) -> Processed:  # noqa: PLR0912  (reads like the WebUI's)
    if isinstance(p.prompt, list):
        assert len(p.prompt) > 0
    else:
        assert p.prompt is not None

    devices.torch_gc()
    seed = get_fixed_seed(p.seed)
    subseed = get_fixed_seed(p.subseed)
    if p.restore_faces is None:
        p.restore_faces = opts.face_restoration
    if p.tiling is None:
        p.tiling = opts.tiling

    p.sd_model_name = shared.sd_model.sd_checkpoint_info.name_for_extra
    p.sd_model_hash = shared.sd_model.sd_model_hash
    p.sd_vae_name = None
    p.sd_vae_hash = None

    p.fill_fields_from_opts()
    p.setup_prompts()
    p.all_seeds = [int(seed) + (x if p.subseed_strength == 0 else 0) for x in range(len(p.all_prompts))]
    p.all_subseeds = [int(subseed) + x for x in range(len(p.all_prompts))]

    if p.scripts is not None:
        p.scripts.process(p)

    infotexts: list[str] = []
    output_images: list[Image.Image] = []
    p.init(p.all_prompts, p.all_seeds, p.all_subseeds)
    if state.job_count == -1:
        state.job_count = p.n_iter

    for n in range(p.n_iter):
        p.iteration = n
        if state.skipped:
            state.skipped = False
        if state.interrupted or state.stopping_generation:
            break

        p.prompts = p.all_prompts[n * p.batch_size : (n + 1) * p.batch_size]
        p.negative_prompts = p.all_negative_prompts[n * p.batch_size : (n + 1) * p.batch_size]
        p.seeds = p.all_seeds[n * p.batch_size : (n + 1) * p.batch_size]
        p.subseeds = p.all_subseeds[n * p.batch_size : (n + 1) * p.batch_size]

        if p.scripts is not None:
            p.scripts.before_process_batch(p, batch_number=n, prompts=p.prompts, seeds=p.seeds, subseeds=p.subseeds)
        if len(p.prompts) == 0:
            break

        p.parse_extra_network_prompts()
        if not p.disable_extra_networks and p.scripts is not None:
            p.scripts.after_extra_networks_activate(
                p,
                batch_number=n,
                prompts=p.prompts,
                seeds=p.seeds,
                subseeds=p.subseeds,
                extra_network_data=p.extra_network_data,
            )
        if p.scripts is not None:
            p.scripts.process_batch(p, batch_number=n, prompts=p.prompts, seeds=p.seeds, subseeds=p.subseeds)
        p.setup_conds()

        # params.txt is written after process_batch so keys added there are in it (ADetailer reads it).
        if n == 0 and not shared.cmd_opts.no_prompt_history:
            params_txt = Path(paths.data_path) / "params.txt"
            params_txt.write_text(Processed(p, []).infotext(p, 0), encoding="utf8")

        if p.n_iter > 1:
            state.job = f"Batch {n + 1} out of {p.n_iter}"

        samples = p.sample(
            conditioning=p.c,
            unconditional_conditioning=p.uc,
            seeds=p.seeds,
            subseeds=p.subseeds,
            subseed_strength=p.subseed_strength,
            prompts=p.prompts,
        )
        if p.scripts is not None:
            ps = scripts.PostSampleArgs(samples)
            p.scripts.post_sample(p, ps)
            samples = ps.samples
        x_samples = np.clip(np.stack([np.asarray(s, dtype=np.float32) for s in samples]), 0.0, 1.0)
        del samples
        devices.torch_gc()
        state.nextjob()

        if p.scripts is not None:
            p.scripts.postprocess_batch(p, x_samples, batch_number=n)
            p.prompts = p.all_prompts[n * p.batch_size : (n + 1) * p.batch_size]
            p.negative_prompts = p.all_negative_prompts[n * p.batch_size : (n + 1) * p.batch_size]
            batch_params = scripts.PostprocessBatchListArgs(list(x_samples))
            p.scripts.postprocess_batch_list(p, batch_params, batch_number=n)
            x_samples = batch_params.images

        save_samples = p.save_samples()
        for i, x_sample in enumerate(x_samples):
            p.batch_index = i
            text, produced = _finish_image(p, i, x_sample, save_samples)
            infotexts.append(text)
            output_images += produced
        devices.torch_gc()

    if not infotexts:
        infotexts.append(Processed(p, []).infotext(p, 0))
    p.color_corrections = None

    index_of_first_image = _add_grid(p, output_images, infotexts)

    devices.torch_gc()
    res = Processed(
        p,
        images_list=output_images,
        seed=p.all_seeds[0],
        info=infotexts[0],
        subseed=p.all_subseeds[0],
        index_of_first_image=index_of_first_image,
        infotexts=infotexts,
        extra_images_list=getattr(p, "extra_result_images", None),
    )
    if p.scripts is not None:
        p.scripts.postprocess(p, res)
    return res
