"""Check Garment Studio's generation path in a running WebUI through its REST API (standard library only).

Usage: python tools/check_webui_generation.py http://127.0.0.1:7860 [--size 256] [--forge]

1. img2img with a photo, an inpaint mask and Garment Studio's background task with weight-free maps
   (mask outline Canny and image Canny): every kept pixel of the returned image must equal the photo;
2. the same with the caller's own ControlNet unit: it must be applied next to ours (infotext);
3. GET /garment-studio/v1/schema, a malformed request → 422 naming the field, then the server still answers.
Prints what it saw; exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import urllib.error
import urllib.request

import numpy as np
from PIL import Image


def call(url: str, body: dict | None = None, timeout: float = 1800) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def b64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def decode(text: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"))


def sample(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A photo (scikit-image's public-domain astronaut, resized) and a painted product rectangle."""
    from skimage import data

    photo = np.asarray(Image.fromarray(data.astronaut()).resize((size + 40, size)))
    painted = np.zeros(photo.shape[:2], np.uint8)
    painted[size // 4 : size * 3 // 4, size // 4 : size * 3 // 4] = 255
    return photo, painted


def check_restore(url: str) -> int:
    """img2img at low denoising on the astronaut with the face restore pass (OpenCV's Haar detector, offline):
    the nested pass runs and the infotext records it; the kept region stays exact.

    With the test bed's random weights every generated pixel is noise, so no detector can find a face in a
    regenerated area: the face is inside the kept region here (kept pixels stay exact, so the restore pass
    runs and is recorded but cannot change them). With real weights the face lies outside the garment."""
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut())  # 512x512, a face near the top left of centre
    painted = np.zeros(photo.shape[:2], np.uint8)
    painted[40:, 120:400] = 255  # the astronaut, face included: kept exactly
    settings = {
        "control": [],
        "segment": {"matte": "none"},
        "restore": {"enabled": True, "face_detector": "haar", "hands": False, "steps": 2, "denoising_strength": 0.4},
    }
    body = {
        "init_images": [b64(photo)],
        "mask": b64(painted),
        "inpainting_mask_invert": 1,
        "prompt": "an astronaut, detailed face",
        "steps": 2,
        "width": 256,
        "height": 256,
        "seed": 1,
        "sampler_name": "Euler",
        "denoising_strength": 0.3,
        "alwayson_scripts": {"garment studio": {"args": [True, settings]}},
    }
    status, answer = call(f"{url}/sdapi/v1/img2img", body)
    print("restore: img2img status", status)
    if status != 200:
        print("  ", str(answer)[:400])
        return 1
    out = decode(answer["images"][0])
    text = json.loads(answer["info"])["infotexts"][0]
    line = text.split("Garment Studio restore: ")[1].split('", ')[0] if "Garment Studio restore" in text else ""
    keep = painted == 255
    kept = out.shape == photo.shape and np.array_equal(out[keep], photo[keep])
    print(f"   image {out.shape[1]}x{out.shape[0]}, kept pixels equal: {kept}")
    print("   restore in the infotext:", line or "(missing)")
    ok = kept and "restored" in line and "not restored" not in line
    print("ALL OK" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--forge", action="store_true", help="Forge's ControlNet spellings for the caller's unit")
    parser.add_argument("--restore", action="store_true", help="only the restore check (OpenCV's face detector)")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    if args.restore:
        return check_restore(url)
    ok = True
    photo, painted = sample(args.size)
    settings = {
        "task": "background",
        "prompt": "a studio backdrop",
        "segment": {"matte": "none"},
        "control": [{"kind": "mask_canny"}, {"kind": "canny", "weight": 0.5}],
    }
    base = {
        "init_images": [b64(photo)],
        "mask": b64(painted),
        "inpainting_mask_invert": 1,
        "prompt": "a studio backdrop",
        "steps": 2,
        "width": args.size,
        "height": args.size,
        "seed": 1,
        "sampler_name": "Euler",
        "denoising_strength": 1.0,
    }
    keep = painted == 255

    status, body = call(
        f"{url}/sdapi/v1/img2img", {**base, "alwayson_scripts": {"garment studio": {"args": [True, settings]}}}
    )
    print("1. img2img status", status)
    if status == 200:
        out = decode(body["images"][0])
        info = json.loads(body["info"])
        same = out.shape == photo.shape and np.array_equal(out[keep], photo[keep])
        print(f"   images {len(body['images'])}, first {out.shape[1]}x{out.shape[0]}, kept pixels equal: {same}")
        print("   infotext:", info["infotexts"][0].split("\n")[-1][:600])
        ok &= same
    else:
        print("  ", str(body)[:400])
        ok = False

    titles = call(f"{url}/controlnet/model_list")[1]["model_list"]
    depth = next(t for t in titles if "depth" in t)
    own = {
        "enabled": True,
        "module": "None" if args.forge else "none",
        "model": depth,
        "image": b64(photo),
        "weight": 0.3,
    }
    scripts = {"garment studio": {"args": [True, settings]}, "controlnet": {"args": [own]}}
    status, body = call(f"{url}/sdapi/v1/img2img", {**base, "alwayson_scripts": scripts})
    print("2. with the caller's unit: status", status)
    if status == 200:
        text = json.loads(body["info"])["infotexts"][0]
        units = [part.split('"')[1][:90] for part in text.split("ControlNet ")[1:]]
        print("   units in the infotext:", units)
        ok &= len(units) == 3 and any("depth" in u for u in units)
        out = decode(body["images"][0])
        ok &= np.array_equal(out[keep], photo[keep])
    else:
        ok = False

    status, schema = call(f"{url}/garment-studio/v1/schema")
    print("3. schema status", status, "title", schema.get("title") if isinstance(schema, dict) else schema)
    status, body = call(
        f"{url}/garment-studio/v1/segment", {"request": {"segment": {"phrases": 3, "selectt": 1}}, "image": b64(photo)}
    )
    print("   malformed request:", status, str(body)[:300])
    ok &= status == 422
    status, version = call(f"{url}/garment-studio/v1/version")
    print("   still serving:", status, version)
    ok &= status == 200
    print("ALL OK" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
