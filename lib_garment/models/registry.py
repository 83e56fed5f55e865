"""One registry of the models Garment Studio can use: their files, where they come from, how to check them.

Every file carries its download URLs (mirrors, tried in order), its size and its SHA-256 where a trustworthy
value is known. The comment above each entry says where the hash and size were read. ``sha256=None`` means no
trustworthy value was found: such a file is still usable when its format cannot run code (safetensors, JSON,
text), but a pickle checkpoint without a known hash is refused unless the user explicitly trusts unverified
files (see ``lib_garment.models.verify``).

Hugging Face downloads are pinned to a commit (``/resolve/<commit>/``) wherever one was found, so the bytes
behind a URL cannot change under the recorded hash.

The lookup helpers here only look at the disk (no hashing, no network); ``lib_garment.models.store`` decides
whether a copy may be used and downloads what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lib_garment.errors import BadInput
from lib_garment.paths import MODELS_SUBDIR

HF = "https://huggingface.co"


@dataclass(frozen=True)
class ModelFile:
    """One file of a model. ``name`` is relative to the model (a folder member may contain ``/``)."""

    name: str
    urls: tuple[str, ...]
    sha256: str | None = None
    size: int | None = None
    # A pickle that lib_garment.models.safe_pickle reads with a data-only unpickler: it cannot run code, so it
    # may be used without a known hash (its loader must use that unpickler).
    restricted_pickle: bool = False

    def __post_init__(self) -> None:
        if self.sha256 is not None and (len(self.sha256) != 64 or self.sha256 != self.sha256.lower()):
            raise ValueError(f"{self.name}: sha256 must be 64 lowercase hex characters")
        if not self.urls:
            raise ValueError(f"{self.name}: at least one URL is needed")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # what it is for: grounding-dino, sam, matting, depth, pose, restore
    folder: str  # under <models>/garment_studio/
    files: tuple[ModelFile, ...]
    licence: str
    loader: str  # which loader reads it (the runtime maps this to code)
    homepage: str
    default: bool = False
    reuse_folders: tuple[str, ...] = ()  # other extensions' folders under <models>/ that may hold it
    is_dir: bool = False  # a Hugging Face style folder named ``name`` holding ``files``
    hf_repos: tuple[str, ...] = ()  # repo ids whose Hugging Face cache may hold it (first = canonical)
    hf_revision: str | None = None  # the pinned commit; preferred when reusing the Hugging Face cache
    hf_subfolder: str = ""  # where in a cached snapshot the files lie (a pipeline's "vae/")
    notes: str = ""

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.files)

    @property
    def url(self) -> str:
        """Where a person reads about the model (kept for the status views)."""
        return self.homepage

    @property
    def size(self) -> int | None:
        """Total bytes, when every file's size is known."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)


def _hf(repo: str, commit: str, name: str) -> str:
    return f"{HF}/{repo}/resolve/{commit}/{name}"


# -- GroundingDINO ----------------------------------------------------------------------------------------------
# groundingdino_swint_ogc.pth: SHA-256 3b3ca256… and 693,997,677 bytes agree across many independent public
# manifests (Fooocus' inpaint model hashes, Grounded-SAM-2 checkpoint tables, UniVAD fetch scripts that download
# from the GitHub release and verify). The HF commit a94c9b56… is the one pinned by a public ViPE download script.
_GD_COMMIT = "a94c9b567a2a374598f05c584e96798a170c56fb"
# bert-base-uncased (google-bert/bert-base-uncased, formerly "bert-base-uncased") at commit 86b5e093…: sizes and
# SHA-256 from public manifests that bind each file to the HF API's LFS metadata (model.safetensors'
# LFS oid is its SHA-256; the same values appear in several independent pin lists).
_BERT_REPO = "google-bert/bert-base-uncased"
_BERT_COMMIT = "86b5e0934494bd15c9632b12f734a8a67f723594"
# IDEA-Research/grounding-dino-tiny at commit a2bb814d…: model.safetensors SHA-256 1a2412ef… and 689,359,096 bytes
# from the HF API's LFS metadata as recorded by several public pin lists. The small JSON/text files have no
# published hash we could find: they are used unverified (they cannot run code).
_GDT_REPO = "IDEA-Research/grounding-dino-tiny"
_GDT_COMMIT = "a2bb814dd30d776dcf7e30523b00659f4f141c71"

# -- SAM ---------------------------------------------------------------------------------------------------------
# SAM ViT-B/L/H SHA-256 values: micro-sam's checkpoint table (computational-cell-analytics/micro-sam,
# micro_sam/util.py) and many other public manifests agree; sizes from public manifests that record both.
_SAM_BASE = "https://dl.fbaipublicfiles.com/segment_anything"
# mobile_sam.pt: SHA-256 6dbb9052… (micro-sam's "vit_t" entry and others), 40,728,226 bytes; the MobileSAM
# repository keeps the file in git at weights/mobile_sam.pt (commit f706ad9c… pinned by public scripts).
_MOBILESAM_COMMIT = "f706ad9c4eb7f219c00d9050e46328518ffb65d2"
# sam_hq_vit_h.pth (lkeab/hq-sam): SHA-256 a7ac14a0… and 2,570,940,653 bytes, recorded by refiners' conversion
# recipe, Intel's Geti prompt model map and others.

# -- ViTMatte, Depth Anything ------------------------------------------------------------------------------------
# hustvl/vitmatte-small-composition-1k at commit 6a58ad76…: sizes and SHA-256 of all three files from public pin
# lists (model.safetensors 103,294,572 bytes bda9289d…, config.json 837 bytes, preprocessor_config.json 284 bytes).
# Licences: the ViTMatte code is MIT, the Hugging Face model card says Apache-2.0; both allow commercial use.
_VITMATTE_REPO = "hustvl/vitmatte-small-composition-1k"
_VITMATTE_COMMIT = "6a58ad7646403c1df626fbd746900aec7361ea1d"
# depth-anything/Depth-Anything-V2-Small-hf at commit 5426e4f0…: all three files' sizes and SHA-256 from a public
# model-weight registry (the safetensors hash 3152477c… also appears in an independent pin list).
_DEPTH_REPO = "depth-anything/Depth-Anything-V2-Small-hf"
_DEPTH_COMMIT = "5426e4f0f36572d16453bbda7a8389317b1bef99"
# DepthFM (CompVis/depth-fm, MIT): the authors publish depthfm-v1.ckpt on their lab's server with no hash or
# size anywhere we could find, so it is marked restricted_pickle: read by the data-only unpickler, it cannot
# run code (lib_garment.models.safe_pickle). It holds the UNet (LDM layout) and needs SD 1.5's VAE: the
# diffusers folder of stable-diffusion-v1-5/stable-diffusion-v1-5 at commit f03de327…, whose safetensors
# SHA-256 a2b5134f… is recorded with that revision by refiners' conversion recipes (the config has no hash).
_DEPTHFM_URL = "https://ommer-lab.com/files/depthfm/depthfm-v1.ckpt"
_SD15_REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5"
_SD15_COMMIT = "f03de327dd89b501a01da37fc5240cf4fdba85a1"

# -- YOLO ----------------------------------------------------------------------------------------------------------
# yolov8n-pose.pt: SHA-256 c6fa93dd… and 6,832,633 bytes, the GitHub release asset digest of ultralytics/assets
# v8.4.0 as recorded by a public registry, agreeing with many other pins (v8.2.0/v8.3.0 serve the same file).
# yolov8s-pose.pt: no trustworthy hash found, so it is refused unless unverified files are trusted.
_ULTRA = "https://github.com/ultralytics/assets/releases/download"
# ADetailer (Bingsu/adetailer): face_yolov8n.pt 70b640f8…, 6,230,011 bytes (its HF LFS pointer is quoted in a
# public write-up; pinned at commit 53cc19de… there); face_yolov8s.pt c7237eff…, 22,507,707 bytes; hand_yolov8n.pt
# 3991202e…, 6,237,883 bytes (each in at least two independent public manifests). The weights card says
# Apache-2.0; they are loaded through ultralytics, which is AGPL-3.0.
_ADETAILER_REPO = "Bingsu/adetailer"
_ADETAILER_COMMIT = "53cc19de382014514d9d4038601d261a7faa9b7b"


# -- Evaluation (FID / KID / IS) ---------------------------------------------------------------------------------
# weights-inception-2015-12-05-6726825d.pth: the TensorFlow FID Inception (inception-2015-12-05) converted to a
# PyTorch state dict, torch-fidelity's release asset v0.2.0 (the file its FeatureExtractorInceptionV3 loads).
# SHA-256 6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2 as pinned by several public evaluation
# scripts that download this URL and verify it; 95,628,359 bytes as recorded for the same SHA-256 by a public
# conversion script and, for pytorch-fid's pt_inception-2015-12-05-6726825d.pth (the same prefix, which torch.hub
# checks against the SHA-256), by public asset manifests. pytorch-fid's release is listed as the second mirror; a
# different file there would fail the check and never load.
_FID_INCEPTION = "weights-inception-2015-12-05-6726825d.pth"


def _adetailer(name: str, sha256: str, size: int) -> ModelFile:
    return ModelFile(
        name,
        (_hf(_ADETAILER_REPO, _ADETAILER_COMMIT, name), _hf(_ADETAILER_REPO, "main", name)),
        sha256,
        size,
    )


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "groundingdino_swint_ogc",
        "grounding-dino",
        "grounding-dino",
        (
            ModelFile(
                "groundingdino_swint_ogc.pth",
                (
                    _hf("ShilongLiu/GroundingDINO", _GD_COMMIT, "groundingdino_swint_ogc.pth"),
                    "https://github.com/IDEA-Research/GroundingDINO/releases/download/v0.1.0-alpha/"
                    "groundingdino_swint_ogc.pth",
                ),
                "3b3ca2563c77c69f651d7bd133e97139c186df06231157a64c507099c52bc799",
                693_997_677,
            ),
        ),
        "Apache-2.0",
        "groundingdino-py",
        f"{HF}/ShilongLiu/GroundingDINO",
        default=True,
        reuse_folders=("grounding-dino",),
    ),
    ModelSpec(
        "bert-base-uncased",
        "grounding-dino",
        "bert",
        (
            ModelFile(
                "config.json",
                (_hf(_BERT_REPO, _BERT_COMMIT, "config.json"),),
                "7160e1553ad2ca51d8c1cb066be533db31826e12d173824c1bb0cb1a4f187d20",
                570,
            ),
            ModelFile(
                "tokenizer_config.json",
                (_hf(_BERT_REPO, _BERT_COMMIT, "tokenizer_config.json"),),
                "a025160ef0431f1a392f6f050c1310f4c5d9fb6f275932dbccba73c4d214bf10",
                48,
            ),
            ModelFile(
                "vocab.txt",
                (_hf(_BERT_REPO, _BERT_COMMIT, "vocab.txt"),),
                "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
                231_508,
            ),
            ModelFile(
                "tokenizer.json",
                (_hf(_BERT_REPO, _BERT_COMMIT, "tokenizer.json"),),
                "ce64fce797c24f68df90b40a3f74f579b336a493db14bd583fd520ea0d8c9a98",
                466_062,
            ),
            ModelFile(
                "model.safetensors",
                (_hf(_BERT_REPO, _BERT_COMMIT, "model.safetensors"),),
                "68d45e234eb4a928074dfd868cead0219ab85354cc53d20e772753c6bb9169d3",
                440_449_768,
            ),
        ),
        "Apache-2.0",
        "transformers.BertModel (GroundingDINO's text encoder in groundingdino-py)",
        f"{HF}/{_BERT_REPO}",
        default=True,
        is_dir=True,
        hf_repos=(_BERT_REPO, "bert-base-uncased"),
        hf_revision=_BERT_COMMIT,
    ),
    ModelSpec(
        "grounding-dino-tiny",
        "grounding-dino",
        "grounding-dino",
        (
            *(
                ModelFile(name, (_hf(_GDT_REPO, _GDT_COMMIT, name),))
                for name in (
                    "config.json",
                    "preprocessor_config.json",
                    "tokenizer_config.json",
                    "special_tokens_map.json",
                    "tokenizer.json",
                    "vocab.txt",
                )
            ),
            ModelFile(
                "model.safetensors",
                (_hf(_GDT_REPO, _GDT_COMMIT, "model.safetensors"),),
                "1a2412ef99bd74bcd3c2a246fa1e48581f8889a1300c9051974741314fc042f3",
                689_359_096,
            ),
        ),
        "Apache-2.0",
        "transformers.GroundingDinoForObjectDetection",
        f"{HF}/{_GDT_REPO}",
        is_dir=True,
        hf_repos=(_GDT_REPO,),
        hf_revision=_GDT_COMMIT,
    ),
    ModelSpec(
        "sam_vit_b",
        "sam",
        "sam",
        (
            ModelFile(
                "sam_vit_b_01ec64.pth",
                (f"{_SAM_BASE}/sam_vit_b_01ec64.pth",),
                "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
                375_042_383,
            ),
        ),
        "Apache-2.0",
        "segment_anything.vit_b",
        "https://github.com/facebookresearch/segment-anything",
        default=True,
        reuse_folders=("sam",),
    ),
    ModelSpec(
        "sam_vit_l",
        "sam",
        "sam",
        (
            ModelFile(
                "sam_vit_l_0b3195.pth",
                (f"{_SAM_BASE}/sam_vit_l_0b3195.pth",),
                "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
                1_249_524_607,
            ),
        ),
        "Apache-2.0",
        "segment_anything.vit_l",
        "https://github.com/facebookresearch/segment-anything",
        reuse_folders=("sam",),
    ),
    ModelSpec(
        "sam_vit_h",
        "sam",
        "sam",
        (
            ModelFile(
                "sam_vit_h_4b8939.pth",
                (f"{_SAM_BASE}/sam_vit_h_4b8939.pth",),
                "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
                2_564_550_879,
            ),
        ),
        "Apache-2.0",
        "segment_anything.vit_h",
        "https://github.com/facebookresearch/segment-anything",
        reuse_folders=("sam",),
    ),
    ModelSpec(
        "mobile_sam",
        "sam",
        "sam",
        (
            ModelFile(
                "mobile_sam.pt",
                (
                    f"https://github.com/ChaoningZhang/MobileSAM/raw/{_MOBILESAM_COMMIT}/weights/mobile_sam.pt",
                    "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
                ),
                "6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f",
                40_728_226,
            ),
        ),
        "Apache-2.0",
        "mobile_sam.vit_t",
        "https://github.com/ChaoningZhang/MobileSAM",
        reuse_folders=("sam",),
    ),
    ModelSpec(
        "sam_hq_vit_h",
        "sam",
        "sam",
        (
            ModelFile(
                "sam_hq_vit_h.pth",
                (f"{HF}/lkeab/hq-sam/resolve/main/sam_hq_vit_h.pth",),
                "a7ac14a085326d9fa6199c8c698c4f0e7280afdbb974d2c4660ec60877b45e35",
                2_570_940_653,
            ),
        ),
        "Apache-2.0",
        "segment_anything_hq.vit_h",
        "https://github.com/SysCV/sam-hq",
        reuse_folders=("sam",),
        notes="built with the segment-anything-hq package (installed by install.py)",
    ),
    ModelSpec(
        "vitmatte-small-composition-1k",
        "matting",
        "vitmatte",
        (
            ModelFile(
                "config.json",
                (_hf(_VITMATTE_REPO, _VITMATTE_COMMIT, "config.json"),),
                "ae1006f5a83227048b563b2e60709d4203e432b2276949ebef41a8cfeeeaf45f",
                837,
            ),
            ModelFile(
                "preprocessor_config.json",
                (_hf(_VITMATTE_REPO, _VITMATTE_COMMIT, "preprocessor_config.json"),),
                "0db558038b96a3f5c97e46d4ec8966fcc479e9aa58a391bca60b5094a5f7fee0",
                284,
            ),
            ModelFile(
                "model.safetensors",
                (_hf(_VITMATTE_REPO, _VITMATTE_COMMIT, "model.safetensors"),),
                "bda9289db1bb6762d978b42d1c62ae3f34daf7497171a347a1d09657efd788cb",
                103_294_572,
            ),
        ),
        "MIT (code) / Apache-2.0 (weights card)",
        "transformers.VitMatteForImageMatting",
        f"{HF}/{_VITMATTE_REPO}",
        default=True,
        is_dir=True,
        hf_repos=(_VITMATTE_REPO,),
        hf_revision=_VITMATTE_COMMIT,
    ),
    ModelSpec(
        "Depth-Anything-V2-Small-hf",
        "depth",
        "depth",
        (
            ModelFile(
                "config.json",
                (_hf(_DEPTH_REPO, _DEPTH_COMMIT, "config.json"),),
                "c56698d3643dde1f83ea2212759e6b31a22b8f827246a36dd007ee8a22b3ff75",
                950,
            ),
            ModelFile(
                "preprocessor_config.json",
                (_hf(_DEPTH_REPO, _DEPTH_COMMIT, "preprocessor_config.json"),),
                "d41175c0d889477ca8fc67191e540faef14baf6275157b3fdecf78469e6bbf84",
                775,
            ),
            ModelFile(
                "model.safetensors",
                (_hf(_DEPTH_REPO, _DEPTH_COMMIT, "model.safetensors"),),
                "3152477ce0d8d6978d76b995120de97cb5b928701fd0f817769f59e249a16b70",
                99_173_660,
            ),
        ),
        "Apache-2.0",
        "transformers.DepthAnythingForDepthEstimation",
        f"{HF}/{_DEPTH_REPO}",
        default=True,
        is_dir=True,
        hf_repos=(_DEPTH_REPO,),
        hf_revision=_DEPTH_COMMIT,
        notes="only the Small variant is Apache-2.0; Base/Large are non-commercial and never offered as defaults",
    ),
    ModelSpec(
        "depthfm-v1",
        "depth",
        "depth",
        (ModelFile("depthfm-v1.ckpt", (_DEPTHFM_URL,), restricted_pickle=True),),
        "MIT",
        "depth-fm (diffusers UNet2DConditionModel + AutoencoderKL)",
        "https://github.com/CompVis/depth-fm",
        notes="needs the Stable Diffusion 1.5 VAE (stable-diffusion-v1-5-vae) beside it",
    ),
    ModelSpec(
        "stable-diffusion-v1-5-vae",
        "depth",
        "depth",
        (
            ModelFile("config.json", (_hf(_SD15_REPO, _SD15_COMMIT, "vae/config.json"),)),
            ModelFile(
                "diffusion_pytorch_model.safetensors",
                (_hf(_SD15_REPO, _SD15_COMMIT, "vae/diffusion_pytorch_model.safetensors"),),
                "a2b5134f4dbc140d9c11f11cba3233099e00af40f262f136c691fb7d38d2194c",
            ),
        ),
        "CreativeML Open RAIL-M",
        "diffusers.AutoencoderKL",
        f"{HF}/{_SD15_REPO}",
        is_dir=True,
        hf_repos=(_SD15_REPO, "runwayml/stable-diffusion-v1-5"),
        hf_revision=_SD15_COMMIT,
        hf_subfolder="vae",
        notes="the VAE DepthFM encodes photos and decodes depth with",
    ),
    ModelSpec(
        "yolov8n-pose",
        "pose",
        "yolo",
        (
            ModelFile(
                "yolov8n-pose.pt",
                (f"{_ULTRA}/v8.4.0/yolov8n-pose.pt", f"{_ULTRA}/v8.2.0/yolov8n-pose.pt"),
                "c6fa93dd1ee4a2c18c900a45c1d864a1c6f7aba75d84f91648a30b7fb641d212",
                6_832_633,
            ),
        ),
        "AGPL-3.0",
        "ultralytics.YOLO",
        "https://github.com/ultralytics/assets/releases",
        default=True,
    ),
    ModelSpec(
        "yolov8s-pose",
        "pose",
        "yolo",
        (ModelFile("yolov8s-pose.pt", (f"{_ULTRA}/v8.4.0/yolov8s-pose.pt", f"{_ULTRA}/v8.2.0/yolov8s-pose.pt")),),
        "AGPL-3.0",
        "ultralytics.YOLO",
        "https://github.com/ultralytics/assets/releases",
    ),
    ModelSpec(
        "face_yolov8n",
        "restore",
        "yolo",
        (_adetailer("face_yolov8n.pt", "70b640f8f60b1cf0dcc72f30caf3da9495eb2fb6509da48c53374ad6806e6a9c", 6_230_011),),
        "Apache-2.0 (weights card); loaded with ultralytics (AGPL-3.0)",
        "ultralytics.YOLO",
        f"{HF}/{_ADETAILER_REPO}",
        default=True,
        reuse_folders=("adetailer",),
    ),
    ModelSpec(
        "face_yolov8s",
        "restore",
        "yolo",
        (
            _adetailer(
                "face_yolov8s.pt", "c7237eff25787377de196961140ceaed324d859ee8de5a775d93d33a0e3fab78", 22_507_707
            ),
        ),
        "Apache-2.0 (weights card); loaded with ultralytics (AGPL-3.0)",
        "ultralytics.YOLO",
        f"{HF}/{_ADETAILER_REPO}",
        reuse_folders=("adetailer",),
    ),
    ModelSpec(
        "hand_yolov8n",
        "restore",
        "yolo",
        (_adetailer("hand_yolov8n.pt", "3991202eb69e9ddcb3b9ba80cdeb41e734ffaf844403d6c9f47d515cd88c6f29", 6_237_883),),
        "Apache-2.0 (weights card); loaded with ultralytics (AGPL-3.0)",
        "ultralytics.YOLO",
        f"{HF}/{_ADETAILER_REPO}",
        default=True,
        reuse_folders=("adetailer",),
    ),
    ModelSpec(
        "inception-2015-12-05",
        "evaluate",
        "evaluate",
        (
            ModelFile(
                _FID_INCEPTION,
                (
                    f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{_FID_INCEPTION}",
                    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                    "pt_inception-2015-12-05-6726825d.pth",
                ),
                "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
                95_628_359,
            ),
        ),
        "Apache-2.0 (TensorFlow models)",
        "torch_fidelity.FeatureExtractorInceptionV3",
        "https://github.com/toshas/torch-fidelity",
        notes="FID / KID / IS features (python -m lib_garment evaluate); downloaded on first use",
    ),
)


def get_spec(name: str, models: Sequence[ModelSpec] = MODELS) -> ModelSpec:
    """The registry entry called ``name``; an unknown name is bad input and the message lists the known ones."""
    for spec in models:
        if spec.name == name:
            return spec
    raise BadInput(f"unknown model {name!r}; known models: {', '.join(s.name for s in models)}")


def own_folder(spec: ModelSpec, models_root: Path) -> Path:
    """Where Garment Studio itself keeps (and downloads) this model's files."""
    return models_root / MODELS_SUBDIR / spec.folder


def install_path(spec: ModelSpec, models_root: Path) -> Path:
    """The path a download of this model ends up at: the file, or the model folder."""
    base = own_folder(spec, models_root)
    return base / spec.name if spec.is_dir else base / spec.files[0].name


def search_folders(spec: ModelSpec, models_root: Path, extra_folders: Iterable[Path] = ()) -> list[Path]:
    """Folders looked in, in order: our own first, then other extensions' copies, then any extra folders."""
    folders = [own_folder(spec, models_root), *(models_root / f for f in spec.reuse_folders), *extra_folders]
    return list(dict.fromkeys(folders))


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache the way huggingface_hub finds it (without importing it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def hf_snapshots(spec: ModelSpec, hub_cache: Path | None) -> list[Path]:
    """Snapshot folders of this model in the Hugging Face cache: the pinned commit first, then any other."""
    if hub_cache is None or not spec.hf_repos:
        return []
    found: list[Path] = []
    for repo in spec.hf_repos:
        snapshots = hub_cache / ("models--" + repo.replace("/", "--")) / "snapshots"
        if not snapshots.is_dir():
            continue
        others = sorted(p for p in snapshots.iterdir() if p.is_dir() and p.name != spec.hf_revision)
        pinned = snapshots / spec.hf_revision if spec.hf_revision else None
        found.extend([pinned] if pinned is not None and pinned.is_dir() else [])
        found.extend(others)
    if spec.hf_subfolder:
        found = [snapshot / spec.hf_subfolder for snapshot in found]
    return found


@dataclass(frozen=True)
class Candidate:
    """A place on disk that may hold the model: ``path`` is the file (single-file models) or the folder."""

    path: Path
    own: bool  # inside Garment Studio's own folder (where downloads go)
    origin: str = field(default="", compare=False)  # e.g. "models/sam (segment-anything extension)"

    def file(self, spec: ModelSpec, model_file: ModelFile) -> Path:
        return self.path / model_file.name if spec.is_dir else self.path


def candidates(
    spec: ModelSpec,
    models_root: Path,
    extra_folders: Iterable[Path] = (),
    hub_cache: Path | None = None,
) -> Iterator[Candidate]:
    """Every location that could hold the model, in search order (existence is not checked here)."""
    own = own_folder(spec, models_root)
    for folder in search_folders(spec, models_root, extra_folders):
        path = folder / spec.name if spec.is_dir else folder / spec.files[0].name
        yield Candidate(path, own=folder == own, origin=str(folder))
    if spec.is_dir:
        for snapshot in hf_snapshots(spec, hub_cache):
            yield Candidate(snapshot, own=False, origin=f"Hugging Face cache ({snapshot})")


def present(spec: ModelSpec, candidate: Candidate) -> bool:
    """Every file of the model exists at this candidate (nothing is hashed)."""
    return all(candidate.file(spec, f).is_file() for f in spec.files)


def locate(
    spec: ModelSpec,
    models_root: Path,
    extra_folders: Iterable[Path] = (),
    hub_cache: Path | None = None,
) -> Path | None:
    """The file (or model folder) on disk, or None when it is not in any search folder. Presence only:
    ``store.ensure_model`` verifies before anything is loaded."""
    for candidate in candidates(spec, models_root, extra_folders, hub_cache):
        if present(spec, candidate):
            return candidate.path
    return None
