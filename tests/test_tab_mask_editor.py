"""The tab's photo editor adapter: both gradios' payloads become (photo RGB, painted mask "L") by one rule
(host-contract §7 "Mask painting"; lib_garment/segment/coarse.py: any painted pixel counts)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lib_garment.errors import BadInput
from lib_garment.host.ui.mask_editor import (
    EditorValue,
    build_editor,
    combined_mask,
    gradio_major,
    normalise,
    uploaded_mask,
)

H, W = 40, 50


def photo() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)


def strokes(top: int = 10, bottom: int = 20, left: int = 5, right: int = 25) -> np.ndarray:
    painted = np.zeros((H, W), bool)
    painted[top:bottom, left:right] = True
    return painted


def sketch_mask(painted: np.ndarray) -> Image.Image:
    """What gradio 3.41 hands over as "mask": the strokes' alpha made white on black, RGB."""
    gray = (painted * 255).astype(np.uint8)
    return Image.fromarray(np.stack([gray] * 3, axis=2), "RGB")


def layer(
    painted: np.ndarray, colour: tuple[int, int, int] = (34, 197, 94), size: tuple[int, int] = (W, H)
) -> Image.Image:
    """A gradio 4 ImageEditor layer: transparent, the strokes opaque in the brush colour (at ``size``)."""
    rgba = np.zeros((*painted.shape, 4), np.uint8)
    rgba[painted] = (*colour, 255)
    picture = Image.fromarray(rgba, "RGBA")
    return picture if picture.size == size else picture.resize(size, Image.NEAREST)


# ----- gradio 3.41: gr.Image(tool="sketch") → {"image", "mask"} --------------------------------------------------


def test_sketch_payload_gives_the_photo_and_the_painted_area() -> None:
    pixels, painted = photo(), strokes()
    value = normalise({"image": Image.fromarray(pixels), "mask": sketch_mask(painted)})
    assert value.image.mode == "RGB"
    assert np.array_equal(np.asarray(value.image), pixels)
    assert value.mask.mode == "L"
    assert value.mask.size == (W, H)
    assert np.array_equal(value.mask_array(), painted * 255)


def test_sketch_without_strokes_has_no_mask() -> None:
    pixels = photo()
    black = sketch_mask(np.zeros((H, W), bool))
    assert normalise({"image": Image.fromarray(pixels), "mask": black}).mask is None
    assert normalise({"image": Image.fromarray(pixels), "mask": None}).mask is None


def test_sketch_antialiased_edge_counts_as_painted() -> None:
    painted = strokes()
    gray = (painted * 255).astype(np.uint8)
    gray[9, 5:25] = 3  # a faint antialiased rim above the stroke: the brush touched it
    mask = Image.fromarray(np.stack([gray] * 3, axis=2), "RGB")
    value = normalise({"image": Image.fromarray(photo()), "mask": mask})
    assert value.mask_array()[9, 5:25].min() == 255


def test_sketch_rgba_mask_is_read_by_its_alpha() -> None:
    painted = strokes()
    value = normalise({"image": Image.fromarray(photo()), "mask": layer(painted)})
    assert np.array_equal(value.mask_array() > 0, painted)


def test_sketch_rgba_photo_becomes_rgb() -> None:
    rgba = np.dstack([photo(), np.full((H, W), 255, np.uint8)])
    value = normalise({"image": Image.fromarray(rgba, "RGBA"), "mask": None})
    assert value.image.mode == "RGB"
    assert np.array_equal(np.asarray(value.image), rgba[..., :3])


def test_sketch_without_photo_is_empty_even_with_strokes() -> None:
    assert normalise({"image": None, "mask": sketch_mask(strokes())}) == EditorValue(None, None)


# ----- gradio 4: gr.ImageEditor → {"background", "layers", "composite"} ------------------------------------------


def test_image_editor_payload_gives_the_background_and_the_layers_alpha() -> None:
    pixels = photo()
    background = Image.fromarray(np.dstack([pixels, np.full((H, W), 255, np.uint8)]), "RGBA")
    first, second = strokes(), strokes(25, 35, 30, 45)
    value = normalise(
        {"background": background, "layers": [layer(first), layer(second, (255, 0, 0))], "composite": background}
    )
    assert value.image.mode == "RGB"
    assert np.array_equal(np.asarray(value.image), pixels)
    assert np.array_equal(value.mask_array(), (first | second) * 255)


def test_image_editor_without_strokes_has_no_mask() -> None:
    background = Image.fromarray(photo())
    empty = layer(np.zeros((H, W), bool))
    assert normalise({"background": background, "layers": [empty], "composite": background}).mask is None
    assert normalise({"background": background, "layers": [], "composite": background}).mask is None
    assert normalise({"background": background, "layers": None, "composite": None}).mask is None


def test_image_editor_drawing_without_a_photo_is_empty() -> None:
    drawing = layer(strokes())
    assert normalise({"background": None, "layers": [drawing], "composite": drawing}) == EditorValue(None, None)
    # what gradio 4.40 sends when nothing was uploaded: a fully transparent 800x600 background
    blank = Image.new("RGBA", (800, 600), (0, 0, 0, 0))
    assert normalise({"background": blank, "layers": [drawing], "composite": drawing}) == EditorValue(None, None)
    opaque_black = Image.new("RGBA", (W, H), (0, 0, 0, 255))  # a black photo is still a photo
    assert normalise({"background": opaque_black, "layers": []}).image is not None


def test_image_editor_layer_at_another_size_is_fitted_to_the_photo() -> None:
    painted = strokes(0, 20, 0, 25)  # the top-left quarter
    value = normalise({"background": Image.fromarray(photo()), "layers": [layer(painted, size=(2 * W, 2 * H))]})
    assert value.mask.size == (W, H)
    assert np.array_equal(value.mask_array() > 0, painted)


def test_image_editor_file_values_are_read(tmp_path) -> None:
    pixels, painted = photo(), strokes()
    Image.fromarray(pixels).save(tmp_path / "background.png")
    layer(painted).save(tmp_path / "layer.png")
    value = normalise(
        {"background": {"path": str(tmp_path / "background.png")}, "layers": [str(tmp_path / "layer.png")]}
    )
    assert np.array_equal(np.asarray(value.image), pixels)
    assert np.array_equal(value.mask_array() > 0, painted)


# ----- plain values and what no editor sends ------------------------------------------------------------------


def test_plain_values() -> None:
    pixels = photo()
    assert normalise(None) == EditorValue(None, None)
    assert np.array_equal(np.asarray(normalise(Image.fromarray(pixels)).image), pixels)
    assert np.array_equal(np.asarray(normalise(pixels).image), pixels)
    assert normalise(pixels).mask is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"picture": 1}, "unexpected value"),
        (42, "unexpected type int"),
        ({"image": np.zeros((4, 4), np.float32)}, "must be 8-bit"),
    ],
)
def test_unexpected_values_are_bad_input(value, message) -> None:
    with pytest.raises(BadInput, match=message):
        normalise(value)


# ----- the uploaded mask and the union ----------------------------------------------------------------------


def test_uploaded_cut_out_counts_by_alpha_and_gray_by_any_non_zero() -> None:
    painted = strokes()
    cut_out = np.dstack([photo(), (painted * 255).astype(np.uint8)])  # product opaque, the rest transparent
    assert np.array_equal(uploaded_mask(Image.fromarray(cut_out, "RGBA")), painted * 255)
    gray = (painted * 200).astype(np.uint8)
    assert np.array_equal(uploaded_mask(Image.fromarray(gray, "L")), painted * 255)
    assert uploaded_mask(None) is None


def test_painted_and_uploaded_masks_are_united() -> None:
    first, second = strokes(), strokes(25, 35, 30, 45)
    editor = normalise({"image": Image.fromarray(photo()), "mask": sketch_mask(first)})
    united = combined_mask(editor, (second * 255).astype(np.uint8))
    assert np.array_equal(united, (first | second) * 255)
    assert np.array_equal(combined_mask(editor, None), first * 255)
    unpainted = normalise(Image.fromarray(photo()))
    assert np.array_equal(combined_mask(unpainted, (second * 255).astype(np.uint8)), second * 255)


def test_uploaded_mask_of_another_size_is_refused_by_name() -> None:
    editor = normalise(Image.fromarray(photo()))
    with pytest.raises(BadInput, match=r"uploaded mask is 10x10 but the photo is 50x40"):
        combined_mask(editor, np.zeros((10, 10), np.uint8))


# ----- which widget ----------------------------------------------------------------------------------------


def test_gradio_major() -> None:
    assert gradio_major("3.41.2") == 3
    assert gradio_major("4.40.0") == 4
    assert gradio_major("dev") == 0


def test_the_editor_matches_the_installed_gradio() -> None:
    gr = pytest.importorskip("gradio")
    with gr.Blocks():
        editor = build_editor("Photo", "garment_studio_test_editor")
    if gradio_major() >= 4:
        assert isinstance(editor, gr.ImageEditor)
        assert editor.type == "pil"
        assert editor.image_mode == "RGBA"  # the layers' alpha survives preprocessing
    else:
        assert isinstance(editor, gr.Image)
        assert editor.tool == "sketch"
        assert editor.source == "upload"
        assert editor.type == "pil"
