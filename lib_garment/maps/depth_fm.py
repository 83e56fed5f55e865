"""DepthFM (Gui et al. 2024, CompVis/depth-fm, MIT): depth by flow matching in Stable Diffusion's latent space.

What the published checkpoint and the authors' inference code define, and this module follows:

- ``depthfm-v1.ckpt`` holds ``ldm_hparams`` (an LDM "openaimodel" UNet: SD 2.1's, with 8 input channels),
  ``state_dict`` (that UNet in the LDM key layout), ``noising_step`` and ``empty_text_embedding`` (the
  cross-attention context: SD 2.1's encoding of the empty prompt). The image latent is concatenated to the
  flow's state on the channel axis before the first block.
- The photo, scaled to [-1, 1] at sides that are multiples of 64, is encoded by SD 1.5's VAE (posterior mode,
  times the VAE's scaling factor). The flow starts from that latent noised to ``noising_step`` of 1000 on a
  cosine schedule and is integrated with Euler steps from t = 0 to 1 (the UNet takes t in [0, 1] as its
  timestep); the end state is decoded by the VAE, its channels averaged, and ``exp`` of that is the depth
  (the network works on log depth), far = high.

The UNet runs as diffusers' ``UNet2DConditionModel``: its configuration is derived from ``ldm_hparams`` and
the LDM keys are converted by diffusers' own single-file conversion, so no UNet code is written here. diffusers
is in Forge (0.31.0); on AUTOMATIC1111 1.10.1 it lives in the model worker's package folder, and the runtime
picks the process (``DEPTH_FM_REQUIREMENT``). The noise comes from a seeded generator, so the map is a pure
function of the photo and the parameters (the map cache relies on that).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.maps.depth import RawDepth, to_photo_size
from lib_garment.runtime import ModelRuntime, cached_model, get_runtime
from lib_garment.runtime.devices import check_device, resolve_device

DEPTH_FM_REQUIREMENT = "diffusers>=0.31"  # UNet2DConditionModel, AutoencoderKL and the LDM key conversion
SIDE_MULTIPLE = 64  # the VAE divides by 8 and the UNet by 8 more
DIFFUSION_STEPS = 1000  # noising_step counts in these
DEPTH_FM_NEAR_IS_HIGH = False  # exp of the decoded log depth: distance, far = high


@dataclass(frozen=True)
class DepthFmParams:
    """Euler ``steps`` (the authors find 1–2 enough), ``ensemble`` members averaged (each with its own noise),
    the longer side the photo is processed at, and the noise ``seed``."""

    steps: int = 2
    ensemble: int = 1
    processing_side: int = 768
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 50:
            raise BadInput(f"depth-fm steps must be 1..50, got {self.steps}")
        if not 1 <= self.ensemble <= 16:
            raise BadInput(f"depth-fm ensemble must be 1..16, got {self.ensemble}")
        if not SIDE_MULTIPLE <= self.processing_side <= 4096:
            raise BadInput(f"depth-fm processing side must be {SIDE_MULTIPLE}..4096 px, got {self.processing_side}")


DEFAULT_DEPTH_FM = DepthFmParams()


# -- the checkpoint ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DepthFmNetwork:
    """The loaded model: UNet and VAE on ``device`` in ``dtype``, the cross-attention context, the noising."""

    unet: Any
    vae: Any
    context: Any  # (1, 77, context_dim) tensor
    noising_step: int
    dtype: Any


def read_checkpoint(path: Path, *, trusted: bool | None = None) -> dict[str, Any]:
    """The checkpoint's four entries, read by the data-only unpickler unless unverified files are trusted."""
    from lib_garment.models.safe_pickle import load_checkpoint
    from lib_garment.models.verify import trust_unverified

    data = load_checkpoint(path, trusted=trust_unverified(trusted))
    missing = [key for key in ("ldm_hparams", "state_dict", "noising_step", "empty_text_embedding") if key not in data]
    if not isinstance(data, dict) or missing:
        raise ModelUnavailable(f"{path} is not a DepthFM checkpoint (missing {', '.join(missing) or 'everything'})")
    return data


def unet_config(ldm_hparams: dict[str, Any]) -> dict[str, Any]:
    """diffusers' UNet2DConditionModel configuration for the LDM UNet ``ldm_hparams`` describe: diffusers' own
    derivation, fed the parts of an LDM config it reads (-1 means "unset" in LDM's num_heads)."""
    from diffusers.loaders.single_file_utils import create_unet_diffusers_config_from_ldm

    params = {key: value for key, value in dict(ldm_hparams).items() if not (key == "num_heads" and value == -1)}
    params.setdefault("transformer_depth", 1)
    params.setdefault("context_dim", None)
    image_size = int(params.get("image_size", 64))  # the latent's side
    original = {
        "model": {
            "params": {
                "unet_config": {"params": params},
                # SD's VAE: four levels, latents at 1/8 of the image.
                "first_stage_config": {"params": {"ddconfig": {"ch_mult": [1, 2, 4, 4]}}},
            }
        }
    }
    with warnings.catch_warnings():  # its image_size argument is deprecated; the sample size is set below
        warnings.simplefilter("ignore", FutureWarning)
        config = create_unet_diffusers_config_from_ldm(original, {}, image_size=image_size * 8)
    config["sample_size"] = image_size
    return config


def build_unet(ldm_hparams: dict[str, Any], state_dict: dict[str, Any]) -> Any:
    """The UNet with the checkpoint's weights (every key used, every weight filled: strict)."""
    import torch
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import LDM_UNET_KEY, convert_ldm_unet_checkpoint

    config = unet_config(ldm_hparams)
    prefixed = {f"{LDM_UNET_KEY}{key}": value for key, value in state_dict.items()}
    converted = convert_ldm_unet_checkpoint(prefixed, config)
    with torch.device("meta"):  # no random initialisation of ~865 M parameters that are overwritten anyway
        unet = UNet2DConditionModel(**config)
    try:
        unet.load_state_dict(converted, strict=True, assign=True)
    except RuntimeError as err:
        raise ModelUnavailable(f"the DepthFM checkpoint does not fit its own UNet description: {err}") from None
    return unet


def load_depth_fm(checkpoint: str, vae_dir: str, device: str) -> DepthFmNetwork:
    """UNet (from the checkpoint) and VAE (a diffusers folder) on ``device``: fp16 on CUDA, fp32 on the CPU."""
    import torch
    from diffusers import AutoencoderKL

    data = read_checkpoint(Path(checkpoint))
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    unet = build_unet(data["ldm_hparams"], data["state_dict"]).to(device=device, dtype=dtype).eval()
    vae = AutoencoderKL.from_pretrained(vae_dir, local_files_only=True).to(device=device, dtype=dtype).eval()
    context = torch.as_tensor(np.asarray(data["empty_text_embedding"], dtype=np.float32))
    if context.ndim == 2:
        context = context[None]
    return DepthFmNetwork(unet, vae, context.to(device=device, dtype=dtype), int(data["noising_step"]), dtype)


# -- inference ----------------------------------------------------------------------------------------------------


def processing_size(width: int, height: int, side: int) -> tuple[int, int]:
    """(width, height) with the longer side near ``side``, both multiples of 64 (the authors' rounding)."""
    scale = side / max(width, height)
    return tuple(  # type: ignore[return-value]
        max(SIDE_MULTIPLE, round(v * scale / SIDE_MULTIPLE) * SIDE_MULTIPLE) for v in (width, height)
    )


def cosine_alpha_bar(step: int) -> float:
    """The cumulative signal fraction after ``step`` of 1000 on the cosine schedule (log SNR = -2 log tan(πt/2))."""
    t = step / DIFFUSION_STEPS
    log_snr = -2.0 * math.log(math.tan(math.pi * t / 2.0) + 1e-5)
    return 1.0 / (1.0 + math.exp(-log_snr))


def predict_depth_fm(
    image: np.ndarray, checkpoint: str, vae_dir: str, device: str | None = None, params: DepthFmParams | None = None
) -> RawDepth:
    """DepthFM's depth for ``image`` ((H, W, 3) uint8 RGB) at the processing size, as float32 on the CPU
    (distance-like, far = high). :func:`lib_garment.maps.depth.to_photo_size` brings it to the photo."""
    import torch

    params = params or DEFAULT_DEPTH_FM
    device = resolve_device(device)
    net = cached_model(("depth-fm", checkpoint, vae_dir, device), lambda: load_depth_fm(checkpoint, vae_dir, device))
    width, height = processing_size(image.shape[1], image.shape[0], params.processing_side)
    shrinking = width < image.shape[1]
    pixels = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    scaling = float(net.vae.config.scaling_factor)
    with torch.inference_mode():
        latent = net.vae.encode(x.to(device=device, dtype=net.dtype)).latent_dist.mode() * scaling
        latents = latent.repeat(params.ensemble, 1, 1, 1)
        # Noise from a CPU generator: the same map on every device for the same seed.
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(params.seed))
        alpha_bar = cosine_alpha_bar(net.noising_step) if net.noising_step > 0 else 1.0
        state = math.sqrt(alpha_bar) * latents + math.sqrt(1.0 - alpha_bar) * noise.to(device, net.dtype)
        context = net.context.expand(params.ensemble, -1, -1)
        dt = 1.0 / params.steps
        for k in range(params.steps):  # Euler from t = 0 to 1
            t = torch.full((params.ensemble,), k * dt, device=device, dtype=net.dtype)
            velocity = net.unet(torch.cat([state, latents], dim=1), t, encoder_hidden_states=context).sample
            state = state + dt * velocity
        decoded = net.vae.decode(state / scaling).sample.float()
        log_depth = decoded.mean(dim=1).mean(dim=0)  # channels, then the ensemble
    values = np.ascontiguousarray(torch.exp(log_depth).cpu().numpy(), dtype=np.float32)
    return RawDepth(values, near_is_high=DEPTH_FM_NEAR_IS_HIGH)


# -- the estimator (what compute_maps calls) --------------------------------------------------------------------


@dataclass(frozen=True)
class DepthFmEstimator:
    """A :class:`~lib_garment.maps.compute.DepthEstimator` backed by a verified DepthFM checkpoint and VAE folder.

    ``runtime``: where it runs (None: ``get_runtime(DEPTH_FM_REQUIREMENT)`` at the first call: in-process where
    the WebUI has diffusers, else the model worker).
    """

    checkpoint: Path
    vae_dir: Path
    device: str | None = None
    params: DepthFmParams = DEFAULT_DEPTH_FM
    runtime: ModelRuntime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", check_device(self.device))

    @cached_property
    def name(self) -> str:
        """Names the files (size, modification time) and the parameters: a cache key part."""
        parts = [Path(self.checkpoint).resolve(), *sorted(Path(self.vae_dir).resolve().glob("*.safetensors"))]
        stamp = ",".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in parts)
        return f"depth-fm:{stamp}:{self.params}"

    def __call__(self, image: np.ndarray) -> RawDepth:
        runtime = self.runtime if self.runtime is not None else get_runtime(DEPTH_FM_REQUIREMENT)
        raw = runtime.call(
            "lib_garment.maps.depth_fm:predict_depth_fm",
            image,
            str(self.checkpoint),
            str(self.vae_dir),
            self.device,
            self.params,
        )
        height, width = image.shape[:2]
        return to_photo_size(raw, width, height)


# -- finding the model ------------------------------------------------------------------------------------------

CHECKPOINT_SPEC = "depthfm-v1"
VAE_SPEC = "stable-diffusion-v1-5-vae"
CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth")


def _own_checkpoint(model: str) -> Path:
    path = Path(model).expanduser()
    if not path.is_file():
        raise BadInput(f"DepthFM checkpoint {model} does not exist")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise BadInput(f"DepthFM checkpoint {model} must be a .ckpt file (like depthfm-v1.ckpt)")
    return path  # read by the data-only unpickler like the registry's copy: no hash needed


def depth_fm_estimator(
    model: str,
    models_root: Path,
    *,
    device: str | None = None,
    offline: bool | None = None,
    progress: Any = None,
    trust_unverified: bool | None = None,
    runtime: ModelRuntime | None = None,
    params: DepthFmParams = DEFAULT_DEPTH_FM,
) -> DepthFmEstimator:
    """DepthFM ready to run: the checkpoint (``depth-fm``: the registry's, downloaded when missing and allowed;
    else the user's file) and SD 1.5's VAE found and verified now. Says first when no process could run it
    (no diffusers in the WebUI nor in the model worker's folder), before anything is downloaded."""
    from lib_garment.models import registry
    from lib_garment.models.store import ensure_model

    if runtime is None:
        get_runtime(DEPTH_FM_REQUIREMENT)  # ModelUnavailable with what to install, downloading nothing
    common = {"offline": offline, "progress": progress, "trust_unverified": trust_unverified}
    problems: list[str] = []
    found: dict[str, Path] = {}
    wanted = [(VAE_SPEC, None)] + ([(CHECKPOINT_SPEC, None)] if model == "depth-fm" else [("own", model)])
    for name, own in wanted:
        try:
            if own is not None:
                found[name] = _own_checkpoint(own)
            else:  # looked up at call time, so a test can stand a registry of its own in for the real one
                found[name] = ensure_model(registry.get_spec(name, registry.MODELS), models_root, **common)
        except ModelUnavailable as err:  # noqa: PERF203 - every missing file is named at once
            problems.append(str(err))
    if problems:
        raise ModelUnavailable(" ".join(problems))
    checkpoint = found.get(CHECKPOINT_SPEC, found.get("own"))
    return DepthFmEstimator(Path(checkpoint), found[VAE_SPEC], device, params, runtime)
