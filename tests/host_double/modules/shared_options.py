"""The built-in settings the double needs, with the WebUI's defaults (output paths point into the root)."""

from __future__ import annotations

from pathlib import Path

from modules import _double_boot, paths_internal
from modules.options import OptionInfo


def _out(*parts: str) -> str:
    return str(Path(paths_internal.default_output_dir).joinpath(*parts))


def builtin_options() -> dict[str, OptionInfo]:
    opts = {
        # saving
        "samples_save": True,
        "samples_format": "png",
        "grid_save": True,
        "grid_format": "png",
        "return_grid": True,
        "grid_only_if_multiple": True,
        "enable_pnginfo": True,
        "save_init_img": False,
        "save_mask": False,
        "save_mask_composite": False,
        "return_mask": False,
        "return_mask_composite": False,
        "save_images_before_face_restoration": False,
        "save_images_before_color_correction": False,
        "save_incomplete_images": False,
        "jpeg_quality": 80,
        "outdir_samples": "",
        "outdir_txt2img_samples": _out("txt2img-images"),
        "outdir_img2img_samples": _out("img2img-images"),
        "outdir_extras_samples": _out("extras-images"),
        "outdir_grids": "",
        "outdir_txt2img_grids": _out("txt2img-grids"),
        "outdir_img2img_grids": _out("img2img-grids"),
        "outdir_save": _out("saved"),
        "outdir_init_images": _out("init-images"),
        # processing
        "overlay_inpaint": True,
        "img2img_color_correction": False,
        "img2img_background_color": "#ffffff",
        "initial_noise_multiplier": 1.0,
        "inpainting_mask_weight": 1.0,
        "face_restoration": False,
        "face_restoration_model": "CodeFormer",
        "tiling": False,
        "persistent_cond_cache": True,
        "CLIP_stop_at_last_layers": 1,
        "eta_noise_seed_delta": 0,
        "randn_source": "GPU",
        "token_merging_ratio": 0.0,
        "token_merging_ratio_hr": 0.0,
        "s_min_uncond": 0.0,
        "s_churn": 0.0,
        "s_tmin": 0.0,
        "s_tmax": 0.0,
        "s_noise": 1.0,
        "sd_model_checkpoint": "fake-sd15.safetensors [0123456789]",
        "sd_vae": "Automatic",
        # infotext
        "add_model_hash_to_info": True,
        "add_model_name_to_info": True,
        "add_vae_hash_to_info": True,
        "add_vae_name_to_info": True,
        "add_user_name_to_info": False,
        "add_version_to_infotext": True,
        # ui / api
        "multiple_tqdm": True,
        "enable_console_prompts": False,
        "samples_log_stdout": False,
        "do_not_show_images": False,
        "api_enable_requests": True,
        "api_forbid_local_requests": True,
        "api_useragent": "",
        "memmon_poll_rate": 0,
        "profiling_enable": False,
        "disabled_extensions": [],
        "disable_all_extensions": "none",
    }
    result = {key: OptionInfo(value) for key, value in opts.items()}
    # Lists stay per instance (a shared default list would leak between tests).
    result["disabled_extensions"] = OptionInfo([])
    if _double_boot.is_forge():
        result["forge_preset"] = OptionInfo("sd")
    return result
