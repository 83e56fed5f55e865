"""The generation engine without a WebUI: task units, plans, the exact composite, ControlNet model choice and
a job prepared from a supplied mask (issue "generation tasks"; Kong & Wu 2024 §4.2–4.3)."""

from __future__ import annotations

import numpy as np
import pytest

from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.generate.composite import check_kept, composite_kept, fit_to
from lib_garment.generate.controlnet_models import base_of, resolve_model, strip_hash
from lib_garment.generate.describe import compose_prompt, describe_model, request_prompt
from lib_garment.generate.outputs import write_preview
from lib_garment.generate.prepare import EMPTY_POSE, check_inputs, choose_mask_source, prepare, reference_units
from lib_garment.generate.tasks import build_plan, control_units, generation_size, inpaint_mask, map_kinds
from lib_garment.models.settings import ModelSettings
from lib_garment.request import parse_request
from tests.depth_planes import PLANES, assert_one_colour, assert_sharp_step, eight_bit_plane, eight_bit_step

TITLES = [
    "None",
    "control_v11p_sd15_canny [d14c016b]",
    "control_v11p_sd15_openpose [cab727d4]",
    "control_v11f1p_sd15_depth [cfd03158]",
    "diffusers_xl_canny_mid [112a778d]",
    "diffusers_xl_depth_mid [39c49e13]",
]


def photo(height: int = 60, width: int = 80, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def soft_alpha(height: int = 60, width: int = 80) -> np.ndarray:
    alpha = np.zeros((height, width), np.float32)
    alpha[10:50, 20:60] = 1.0
    alpha[9, 20:60] = 0.5  # a soft band above the product
    return alpha


# -- tasks -------------------------------------------------------------------------------------------------


def test_task_defaults_are_the_papers_units() -> None:
    assert map_kinds(parse_request({"task": "background"})) == ("mask_canny", "normal")
    assert map_kinds(parse_request({"task": "model"})) == ("pose", "mask_canny", "depth")


def test_the_users_units_replace_the_defaults_and_an_empty_list_means_none() -> None:
    request = parse_request({"control": [{"kind": "depth", "weight": 0.4, "guidance_end": 0.8}]})
    (unit,) = control_units(request)
    assert (unit.kind, unit.weight, unit.guidance_end) == ("depth", 0.4, 0.8)
    assert control_units(parse_request({"control": []})) == ()


def test_inpaint_mask_regenerates_everything_not_fully_kept() -> None:
    mask = inpaint_mask(soft_alpha())
    assert mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 255}
    assert np.array_equal(mask == 0, soft_alpha() >= 1.0)  # the soft band is regenerated, then mixed back


@pytest.mark.parametrize(
    ("size", "given", "expected"),
    [
        ((800, 600), {}, (800, 600)),
        ((3000, 2000), {}, (1024, 680)),  # fitted in 1024, multiples of 8
        ((1001, 499), {}, (1000, 496)),
        ((800, 600), {"width": 512, "height": 768}, (512, 768)),
        ((800, 600), {"width": 400}, (400, 304)),  # the other side keeps the photo's aspect
    ],
)
def test_generation_size(size, given, expected) -> None:
    assert generation_size(*size, parse_request({"generation": given})) == expected


def test_plan_carries_full_size_rgb_maps_and_the_requests_options() -> None:
    image, alpha = photo(), soft_alpha()
    maps = {"mask_canny": np.zeros((60, 80), np.uint8), "normal": np.full((60, 80, 3), 128, np.uint8)}
    request = parse_request(
        {"prompt": "studio", "seed": 5, "generation": {"steps": 12, "inpainting_fill": "latent noise", "mask_blur": 2}}
    )
    plan = build_plan(request, image, alpha, maps)
    assert [u.kind for u in plan.units] == ["mask_canny", "normal"]
    assert all(u.image.shape == (60, 80, 3) for u in plan.units)
    assert (plan.prompt, plan.seed, plan.steps, plan.inpainting_fill, plan.mask_blur) == ("studio", 5, 12, 2, 2)
    assert plan.cfg_scale is None  # the backend's own value
    data = plan.to_json()
    assert data["kept_pixels"] == 40 * 40
    assert data["units"][1]["map"] == "maps/normal.png"


def test_plan_refuses_a_map_of_another_size() -> None:
    maps = {"mask_canny": np.zeros((30, 80), np.uint8), "normal": np.zeros((60, 80, 3), np.uint8)}
    with pytest.raises(BadInput, match="mask_canny map is 80x30 but the photo is 80x60"):
        build_plan(parse_request({}), photo(), soft_alpha(), maps)


# -- composite -----------------------------------------------------------------------------------------------


def test_composite_keeps_alpha_one_pixels_bit_for_bit_and_takes_generated_where_zero() -> None:
    image, alpha = photo(), soft_alpha()
    generated = photo(seed=1)
    out = composite_kept(image, generated, alpha)
    assert np.array_equal(out[alpha >= 1], image[alpha >= 1])
    assert np.array_equal(out[alpha <= 0], generated[alpha <= 0])
    band = out[9, 20:60].astype(int)
    # Halves are exact in floating point and go to the even neighbour (the rule: tests/test_generate_composite.py,
    # which also checks α = 0.25 and 0.75, where a swapped α would show).
    expected = np.rint(0.5 * image[9, 20:60].astype(float) + 0.5 * generated[9, 20:60].astype(float))
    assert np.array_equal(band, expected)
    assert check_kept(image, out, alpha).exact


def test_composite_brings_a_generation_of_another_size_back_to_the_photo() -> None:
    image, alpha = photo(), soft_alpha()
    generated = photo(64, 64, seed=2)  # what the WebUI returns at 64x64
    out = composite_kept(image, generated, alpha)
    assert out.shape == image.shape
    assert check_kept(image, out, alpha).describe() == "1600 kept pixels, identical to the photo"
    # The generated part is the 64x64 generation resized to 80x60, not a blank of the right shape.
    assert np.array_equal(out[alpha <= 0], fit_to(generated, 80, 60)[alpha <= 0])
    assert out[alpha <= 0].std() > 30  # random pixels, resized: far from any flat fill


def test_check_kept_counts_differing_pixels() -> None:
    image, alpha = photo(), soft_alpha()
    damaged = image.copy()
    damaged[20, 30] += 1
    check = check_kept(image, damaged, alpha)
    assert (check.kept_pixels, check.differing, check.exact) == (1600, 1, False)


def test_composite_refuses_a_matte_of_another_size() -> None:
    with pytest.raises(BadInput, match="alpha is 10x10"):
        composite_kept(photo(), photo(), np.ones((10, 10), np.float32))


# -- ControlNet models ---------------------------------------------------------------------------------------


def test_titles_and_bases() -> None:
    assert strip_hash("control_v11p_sd15_canny [d14c016b]") == "control_v11p_sd15_canny"
    assert base_of("control_v11p_sd15_canny [d14c016b]") == "sd15"
    assert base_of("diffusers_xl_canny_mid [112a778d]") == "sdxl"
    assert base_of("t2i-adapter_xl_canny") == "sdxl"
    assert base_of("my_canny_model") is None


@pytest.mark.parametrize(
    ("kind", "base", "expected"),
    [
        ("mask_canny", "sd15", "control_v11p_sd15_canny [d14c016b]"),
        ("canny", "sdxl", "diffusers_xl_canny_mid [112a778d]"),
        ("pose", "sd15", "control_v11p_sd15_openpose [cab727d4]"),
        ("depth", "sdxl", "diffusers_xl_depth_mid [39c49e13]"),
        ("lines", "sd15", "control_v11p_sd15_canny [d14c016b]"),  # no M-LSD model: canny reads line maps too
    ],
)
def test_models_are_chosen_by_kind_and_base(kind, base, expected) -> None:
    assert resolve_model(kind, TITLES, base) == expected


def test_a_named_model_matches_with_or_without_its_hash() -> None:
    assert resolve_model("depth", TITLES, "sd15", "control_v11f1p_sd15_depth") == TITLES[3]
    assert resolve_model("depth", TITLES, "sd15", "CONTROL_V11F1P_SD15_DEPTH [cfd03158]") == TITLES[3]
    with pytest.raises(ModelUnavailable, match="'my_depth' is not installed"):
        resolve_model("depth", TITLES, "sd15", "my_depth")


def test_no_fitting_model_names_what_to_install() -> None:
    with pytest.raises(ModelUnavailable, match=r"normal map \(SD 1.5\).*control_v11p_sd15_normalbae"):
        resolve_model("normal", TITLES, "sd15")
    with pytest.raises(ModelUnavailable, match=r"pose map \(SDXL\).*thibaud_xl_openpose"):
        resolve_model("pose", TITLES, "sdxl")


# -- a job from a supplied mask --------------------------------------------------------------------------------


def test_mask_source_rules() -> None:
    assert choose_mask_source(parse_request({"segment": {"phrases": "shirt"}}), has_mask=True) == "mask"
    assert choose_mask_source(parse_request({"segment": {"phrases": "shirt"}}), has_mask=False) == "phrase"
    with pytest.raises(BadInput, match="no mask was given"):
        choose_mask_source(parse_request({"segment": {"mask_source": "mask"}}), has_mask=False)
    with pytest.raises(BadInput, match="say what to keep"):
        choose_mask_source(parse_request({}), has_mask=False)


def test_inputs_of_other_sizes_are_refused_before_any_model() -> None:
    request = parse_request({"segment": {"phrases": "shirt"}})
    with pytest.raises(BadInput, match="the mask is 10x10 but the photo is 80x60"):
        check_inputs(request, photo(), mask=np.zeros((10, 10), np.uint8))
    with pytest.raises(BadInput, match="supplied depth map is 8x8"):
        check_inputs(request, photo(), supplied_maps={"depth": np.zeros((8, 8), np.uint8)})


def keep_mask() -> np.ndarray:
    mask = np.zeros((60, 80), np.uint8)
    mask[10:50, 20:60] = 255
    return mask


def test_prepare_from_a_mask_with_weight_free_and_supplied_maps(tmp_path) -> None:
    request = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "mask_canny"}, {"kind": "normal"}]})
    supplied = {"normal": np.full((60, 80, 3), 128, np.uint8)}
    env = ModelSettings(models_root=tmp_path / "models", offline=True)
    prepared = prepare(request, photo(), env, mask=keep_mask(), supplied_maps=supplied)
    assert prepared.mask_source == "mask"
    assert np.array_equal(prepared.plan.keep_alpha >= 1, keep_mask() == 255)  # matte "none": the mask itself
    assert np.array_equal(prepared.plan.units[1].image, supplied["normal"])
    outline = prepared.maps["mask_canny"]
    assert outline[10, 30] == 255  # on the product's border
    assert outline[30, 40] == 0  # not inside it
    written = {p.relative_to(tmp_path / "out").as_posix() for p in write_preview(prepared, tmp_path / "out")}
    assert {"overlay.png", "mask.png", "alpha.png", "inpaint_mask.png", "maps/mask_canny.png", "plan.json"} <= written


def test_a_mask_keeping_nothing_is_refused(tmp_path) -> None:
    request = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "canny"}]})
    env = ModelSettings(models_root=tmp_path, offline=True)
    with pytest.raises(BadInput, match="keeps nothing"):
        prepare(request, photo(), env, mask=np.zeros((60, 80), np.uint8))


def test_a_missing_depth_model_is_named_before_anything_runs(tmp_path) -> None:
    request = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "normal"}]})
    env = ModelSettings(models_root=tmp_path, offline=True)
    with pytest.raises(ModelUnavailable, match="normal map needs the depth model"):
        prepare(request, photo(), env, mask=keep_mask())


def test_without_units_no_map_is_made_and_no_model_is_asked_for(tmp_path) -> None:
    """ControlNet absent but allowed: the depth model (not on this machine) is never needed."""
    request = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "normal"}]})
    env = ModelSettings(models_root=tmp_path, offline=True)
    prepared = prepare(request, photo(), env, mask=keep_mask(), units=False)
    assert prepared.plan.units == ()
    assert prepared.maps == {}
    assert "no control maps made" in prepared.notes[-1]
    assert prepared.request.control[0].kind == "normal"  # the request itself is reported as it was


class FixedPose:
    """A pose model's stand-in finding the given people ((people, 17, 3) COCO keypoints)."""

    def __init__(self, people: np.ndarray) -> None:
        self.people = people
        self.name = f"fixed-pose-{len(people)}"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.people


@pytest.mark.parametrize("found", [0, 1])
def test_a_pose_model_that_finds_nobody_leaves_an_empty_map_and_says_so(
    tmp_path, monkeypatch: pytest.MonkeyPatch, found: int
) -> None:
    from lib_garment.generate import prepare as prepare_module

    person = np.zeros((found, 17, 3), np.float32)
    person[..., 0], person[..., 1], person[..., 2] = np.linspace(20, 60, 17), np.linspace(10, 50, 17), 0.9
    monkeypatch.setattr(prepare_module, "map_estimators", lambda kinds, request, env: (FixedPose(person), None))
    request = parse_request({"task": "model", "segment": {"matte": "none"}, "control": [{"kind": "pose"}]})
    env = ModelSettings(models_root=tmp_path, offline=True)
    prepared = prepare(request, photo(), env, mask=keep_mask())
    assert prepared.maps["pose"].any() == bool(found)
    assert (EMPTY_POSE in prepared.notes) == (not found)
    assert prepared.plan.notes == prepared.notes  # the plan (the tab's summary, plan.json) says it too
    # A black pose map of the caller's own is their choice: nothing to say.
    supplied = prepare(request, photo(), env, mask=keep_mask(), supplied_maps={"pose": np.zeros((60, 80, 3), np.uint8)})
    assert EMPTY_POSE not in supplied.notes


def test_a_later_preview_leaves_no_map_of_an_earlier_one(tmp_path) -> None:
    env = ModelSettings(models_root=tmp_path / "models", offline=True)
    two = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "mask_canny"}, {"kind": "canny"}]})
    one = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "canny"}]})
    out = tmp_path / "out"
    write_preview(prepare(two, photo(), env, mask=keep_mask()), out)
    (out / "maps" / "mine.png").write_bytes(b"the user's own file")
    write_preview(prepare(one, photo(), env, mask=keep_mask()), out)
    assert sorted(path.name for path in (out / "maps").iterdir()) == ["canny.png", "mine.png"]


def test_reference_units_from_a_keep_mask_need_no_phrase_and_no_model(tmp_path) -> None:
    request = parse_request({"control": [{"kind": "mask_canny"}]})
    env = ModelSettings(models_root=tmp_path, offline=True)
    (unit,) = reference_units(request, photo(), env, mask=keep_mask())
    assert unit.image[10, 30].tolist() == [255, 255, 255]  # the product's outline
    assert unit.image[30, 40].tolist() == [0, 0, 0]
    with pytest.raises(BadInput, match="reference_mask"):
        reference_units(request, photo(), env)
    with pytest.raises(BadInput, match="the reference mask is 80x10"):
        reference_units(request, photo(), env, mask=np.ones((10, 80), np.uint8))


@pytest.mark.parametrize(("height", "width", "dx", "dy", "start"), PLANES)
def test_the_normal_unit_is_made_from_the_requests_own_eight_bit_depth(
    tmp_path, height: int, width: int, dx: float, dy: float, start: float
) -> None:
    """Issue 10 on the request path: the supplied depth map (RGB, as decoded from a PNG) is what the normals come
    from, with no depth model (none is on this machine), and a plane's normals are one colour."""
    depth = np.repeat(eight_bit_plane(height, width, dx, dy, start)[..., None], 3, axis=2)
    request = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "depth"}, {"kind": "normal"}]})
    env = ModelSettings(models_root=tmp_path, offline=True)
    keep = np.full((height, width), 255, np.uint8)
    prepared = prepare(request, photo(height, width), env, mask=keep, supplied_maps={"depth": depth})
    depth_unit, normal_unit = prepared.plan.units
    assert np.array_equal(depth_unit.image, depth)  # the depth unit takes the map as it came
    assert_one_colour(normal_unit.image)
    # txt2img's reference photo (and the REST maps route without an outline unit) takes the same way
    normal_only = parse_request({"control": [{"kind": "normal"}]})
    (reference,) = reference_units(normal_only, photo(height, width), env, depth=depth)
    np.testing.assert_array_equal(reference.image, normal_unit.image)


def test_a_step_in_the_requests_own_depth_stays_a_sharp_normal_edge(tmp_path) -> None:
    depth, column = eight_bit_step(60, 80)
    request = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "normal"}]})
    env = ModelSettings(models_root=tmp_path, offline=True)
    prepared = prepare(request, photo(), env, mask=keep_mask(), supplied_maps={"depth": np.dstack([depth] * 3)})
    assert_sharp_step(prepared.plan.units[0].image, column)


def test_a_supplied_depth_map_that_is_no_depth_map_is_refused_before_any_model(tmp_path) -> None:
    request = parse_request({"segment": {"matte": "none"}, "control": [{"kind": "normal"}]})
    env = ModelSettings(models_root=tmp_path, offline=True)
    with pytest.raises(BadInput, match="matches no known depth colour map") as refused:
        prepare(request, photo(), env, mask=keep_mask(), supplied_maps={"depth": photo(seed=1)})
    assert refused.value.loc == ("maps", "depth")


# -- the model task's person -------------------------------------------------------------------------------


def test_the_model_description_reads_in_a_fixed_order() -> None:
    request = parse_request(
        {"task": "model", "model": {"scene": "in a park ", "gender": "woman", "age": "in her 30s", "pose": "  "}}
    )
    assert describe_model(request.model) == "fashion model, woman, in her 30s, in a park"
    assert describe_model(parse_request({}).model) == ""


def test_the_description_joins_the_prompt_once() -> None:
    assert compose_prompt("linen dress, ", "fashion model, woman") == "linen dress, fashion model, woman"
    assert compose_prompt("", "fashion model, woman") == "fashion model, woman"
    twice = compose_prompt(compose_prompt("linen dress", "fashion model, woman"), "fashion model, woman")
    assert twice == "linen dress, fashion model, woman"  # a pasted prompt already holds it
    assert compose_prompt("linen dress", "") == "linen dress"


def test_the_plan_prompt_carries_the_description_for_the_model_task_only() -> None:
    image, alpha = photo(), soft_alpha()
    request = parse_request({"task": "model", "prompt": "red dress", "control": [], "model": {"expression": "smiling"}})
    assert build_plan(request, image, alpha, {}).prompt == "red dress, fashion model, smiling"
    assert request_prompt(parse_request({"prompt": "red dress"})) == "red dress"
    with pytest.raises(BadInput, match="model describes the person of the model task"):
        parse_request({"task": "background", "model": {"gender": "man"}})
