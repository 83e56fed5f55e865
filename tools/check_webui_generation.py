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
    """The restore pass in a running WebUI, on scikit-image's astronaut (a face OpenCV's Haar cascade finds
    offline). With the test bed's random weights every generated pixel is noise, in which no detector finds a
    face, so the nested pass is shown where the face is still the photographed one:

    1. ``POST /garment-studio/v1/restore`` on the photo, with a ControlNet canny unit made from each crop: the
       nested img2img pass runs (one "[Garment Studio] restore: face …" line in the server log, ControlNet
       hooked inside it) and the face region changes while everything outside the skin matte stays;
    2. img2img with the always-on section, the restore pass on and the astronaut kept by a painted mask: the
       infotext records the restore line (the kept garment covers the face, so it says why nothing ran);
    3. ``/garment-studio/v1/generate`` with ``restore.enabled``: ``info.restore`` has the line.
    """
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut())  # 512x512
    restore = {"face_detector": "haar", "hands": False, "steps": 2, "crop_size": 128, "denoising_strength": 0.3}
    ok = True
    body = {
        "request": {"prompt": "an astronaut", "restore": {**restore, "controlnet": {"kind": "canny"}}},
        "image": b64(photo),
    }
    status, answer = call(f"{url}/garment-studio/v1/restore", body)
    print("1. /garment-studio/v1/restore status", status)
    if status == 200:
        out = decode(answer["image"])
        changed = np.any(out != photo, axis=-1)
        ys, xs = np.nonzero(changed)
        box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())) if len(xs) else None
        print(f"   restore line: {answer['info'].get('restore')!r}; {int(changed.sum())} pixels changed, within {box}")
        ok &= "1 face restored" in str(answer["info"].get("restore")) and bool(changed.any())
        ok &= box is not None and box[3] < 256  # only around the face, in the top half
    else:
        print("  ", str(answer)[:400])
        ok = False

    painted = np.zeros(photo.shape[:2], np.uint8)
    painted[40:, 120:400] = 255  # the astronaut, face included: kept exactly
    settings = {"control": [], "segment": {"matte": "none"}, "restore": {**restore, "enabled": True}}
    img2img = {
        "init_images": [b64(photo)],
        "mask": b64(painted),
        "inpainting_mask_invert": 1,
        "prompt": "an astronaut",
        "steps": 2,
        "width": 128,
        "height": 128,
        "seed": 1,
        "sampler_name": "Euler",
        "denoising_strength": 0.3,
        "alwayson_scripts": {"garment studio": {"args": [True, settings]}},
    }
    status, answer = call(f"{url}/sdapi/v1/img2img", img2img)
    print("2. img2img with the always-on restore: status", status)
    if status == 200:
        out = decode(answer["images"][0])
        text = json.loads(answer["info"])["infotexts"][0]
        line = text.split("Garment Studio restore: ")[1].split('", ')[0] if "Garment Studio restore" in text else ""
        keep = painted == 255
        print(f"   kept pixels equal: {np.array_equal(out[keep], photo[keep])}; restore in the infotext: {line!r}")
        ok &= bool(line) and np.array_equal(out[keep], photo[keep])
    else:
        ok = False

    generate = {
        "request": {
            "prompt": "an astronaut",
            "segment": {"matte": "none"},
            "control": [{"kind": "mask_canny"}],
            "generation": {"steps": 2, "width": 128, "height": 128, "sampler": "Euler"},
            "restore": {**restore, "enabled": True},
        },
        "image": b64(photo),
        "mask": b64(painted),
    }
    status, answer = call(f"{url}/garment-studio/v1/generate", generate)
    print("3. /garment-studio/v1/generate with restore: status", status)
    if status == 200:
        print(f"   info.restore: {answer['info'].get('restore')}; kept: {answer['info']['kept']}")
        ok &= bool(answer["info"].get("restore")) and all(k["exact"] for k in answer["info"]["kept"])
    else:
        ok = False
    print("ALL OK" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--forge", action="store_true", help="Forge's ControlNet spellings for the caller's unit")
    parser.add_argument("--restore", action="store_true", help="only the restore checks (OpenCV's face detector)")
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
