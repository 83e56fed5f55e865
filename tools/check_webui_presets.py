"""Check Garment Studio's marketplace presets in a running WebUI through its REST API.

Usage: python tools/check_webui_presets.py http://127.0.0.1:7860

1. GET /garment-studio/v1/presets lists amazon-main with its rules and their sources;
2. POST /generate with preset amazon-main and output.background white: no diffusion, a file that passes its own
   report's required rules, the product's pixels bit-exact on the canvas (the photo is sized so that it is not
   scaled), and the same verdict from this checkout's ``python -m lib_garment check`` on the returned file;
3. an unknown preset → 422 naming request.preset, and the server still answers;
4. img2img with the always-on section, the preset and a white background (put in after the WebUI's generation):
   the infotext's compliance line shows no required rule failed.
Prints what it saw; exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_webui_generation import b64, call  # the sibling tool's REST helpers

API = "/garment-studio/v1"
ROOT = Path(__file__).resolve().parents[1]


def product_photo() -> tuple[np.ndarray, np.ndarray]:
    """320x320, a textured product 272x272 (85 % of the side: amazon-main's fill, so it is not scaled)."""
    rng = np.random.default_rng(3)
    photo = np.full((320, 320, 3), (30, 160, 60), np.uint8)
    photo[24:296, 24:296] = rng.integers(0, 256, (272, 272, 3), dtype=np.uint8)
    keep = np.zeros((320, 320), np.uint8)
    keep[24:296, 24:296] = 255
    return photo, keep


def local_check(data: bytes, suffix: str, alpha: np.ndarray) -> tuple[int, dict]:
    """This checkout's `check` command on the returned file, with the product's matte on the canvas."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"result{suffix}"
        path.write_bytes(data)
        Image.fromarray(alpha).save(Path(folder) / "alpha.png")
        command = ["check", str(path), "--alpha", str(Path(folder) / "alpha.png"), "--preset", "amazon-main", "--json"]
        done = subprocess.run(
            [sys.executable, "-m", "lib_garment", *command],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {"stderr": done.stderr}


def check_list(url: str) -> bool:
    status, answer = call(url + API + "/presets")
    presets = {p["name"]: p for p in answer.get("presets", [])} if isinstance(answer, dict) else {}
    amazon = presets.get("amazon-main", {})
    sources = {source["id"] for source in amazon.get("sources", [])}
    cited = all(rule["source"] in sources for rule in amazon.get("rules", []))
    print(f"1. presets status {status}: {len(presets)} presets; amazon-main rules {len(amazon.get('rules', []))}, "
          f"every rule cites a source of its file: {cited}")  # fmt: skip
    return status == 200 and bool(amazon.get("rules")) and cited


def check_generate(url: str) -> bool:
    photo, keep = product_photo()
    body = {
        "request": {"preset": "amazon-main", "output": {"background": "white"}, "segment": {"matte": "none"}},
        "image": b64(photo),
        "mask": b64(keep),
    }
    status, answer = call(url + API + "/generate", body)
    if status != 200 or not isinstance(answer, dict):
        print(f"2. generate status {status}: {str(answer)[:400]}")
        return False
    info = answer["info"]
    data = base64.b64decode(answer["images"][0])
    (report,) = info["compliance"]
    statuses = {rule["id"]: rule["status"] for rule in report["rules"]}
    required_failed = [r["id"] for r in report["rules"] if r["status"] == "fail" and r["severity"] == "required"]
    canvas = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    x0, y0, x1, y1 = report["framing"]["product_box"]
    exact = report["framing"]["scale"] == 1.0 and np.array_equal(canvas[y0:y1, x0:x1], photo[24:296, 24:296])
    # The canvas's matte: the answer's photo-size alpha moved to where the (unscaled) product was placed.
    photo_alpha = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["alpha"]))).convert("L"))
    canvas_alpha = np.zeros(canvas.shape[:2], np.uint8)
    canvas_alpha[y0:y1, x0:x1] = photo_alpha[24:296, 24:296]
    code, again = local_check(data, "." + info["formats"][0].replace("jpeg", "jpg"), canvas_alpha)
    print(f"2. generate status 200: generated {info['generated']}, format {info['formats'][0]}, "
          f"{len(data)} bytes, canvas {canvas.shape[1]}x{canvas.shape[0]}, verdict {report['verdict']}, "
          f"required rules failed {required_failed}, pure white {statuses.get('background-pure-white')}")  # fmt: skip
    print(f"   product pixels bit-exact on the canvas (unscaled): {exact}")
    print(f"   this checkout's `check` on the file: exit {code}, verdict {again.get('verdict')}")
    return (
        info["generated"] is False
        and not required_failed
        and statuses.get("background-pure-white") == "pass"
        and exact
        and again.get("verdict") == report["verdict"]
        and code == (0 if report["verdict"] == "pass" else 1)
    )


def check_refusal(url: str) -> bool:
    photo, keep = product_photo()
    body = {"request": {"preset": "no-such-shop"}, "image": b64(photo), "mask": b64(keep)}
    status, answer = call(url + API + "/generate", body)
    detail = json.loads(answer)["detail"] if isinstance(answer, str) else answer.get("detail")
    loc = detail[0]["loc"] if isinstance(detail, list) and detail else None
    alive, version = call(url + API + "/version")
    print(f"3. unknown preset: status {status}, loc {loc}: {detail[0]['msg'][:160] if loc else detail}")
    print(f"   still serving: {alive} {version}")
    return status == 422 and loc == ["body", "request", "preset"] and alive == 200


def check_always_on(url: str) -> bool:
    photo, keep = product_photo()
    settings = {
        "task": "background",
        "preset": "amazon-main",
        "output": {"background": "white"},
        "segment": {"matte": "none"},
        "control": [],
    }
    body = {
        "prompt": "a studio backdrop",
        "init_images": [b64(photo)],
        "mask": b64(255 - keep),  # white = inpainted: everything but the product
        "inpainting_mask_invert": 0,
        "denoising_strength": 1.0,
        "steps": 2,
        "width": 320,
        "height": 320,
        "seed": 1,
        "alwayson_scripts": {"garment studio": {"args": [True, {**settings, "allow_without_controlnet": True}]}},
    }
    status, answer = call(url + "/sdapi/v1/img2img", body)
    if status != 200 or not isinstance(answer, dict):
        print(f"4. img2img status {status}: {str(answer)[:400]}")
        return False
    infotext = json.loads(answer["info"])["infotexts"][0]
    line = next((part for part in infotext.split(", Garment Studio ") if part.startswith("compliance:")), None)
    size = Image.open(io.BytesIO(base64.b64decode(answer["images"][0]))).size
    print(f"4. img2img with the preset: status 200, image {size[0]}x{size[1]}, infotext line: Garment Studio {line}")
    return line is not None and "amazon-main fail" not in line


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    url = parser.parse_args().url.rstrip("/")
    results = [check_list(url), check_generate(url), check_refusal(url), check_always_on(url)]
    print("ALL OK" if all(results) else f"FAILED: {results}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
