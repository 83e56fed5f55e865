"""install.py's decision logic: installed versions + WebUI pins in, a plan out (host-contract.md §2)."""

from __future__ import annotations

import pytest

from lib_garment.deps import A1111_1_10_1_PINS, REQUIREMENTS, WORKER_PACKAGES, Requirement, normalize
from lib_garment.install_plan import install_spec, parse_pins, pip_constraints, plan_install

WORKER_READY = {spec.split("==")[0]: spec.split("==")[1] for spec in WORKER_PACKAGES}


def a1111_installed(**extra: str) -> dict[str, str]:
    """A stock A1111 1.10.1 environment (its pins plus the launcher's torch) with our packages added."""
    installed = dict(A1111_1_10_1_PINS)
    installed.update(torch="2.1.2", torchvision="0.16.2", **{k.replace("_", "-"): v for k, v in extra.items()})
    return installed


ALL_OURS = {
    "opencv-python": "4.11.0.86",
    "ultralytics": "8.4.118",
    "segment-anything": "1.0",
    "groundingdino-py": "0.4.0",
    "segment-anything-hq": "0.3",
    "mobilesam-mirror": "1.0.0",
    "pymatting": "1.1.16",
    "torch-fidelity": "0.4.0",
    "scikit-learn": "1.9.1",
    "pysodmetrics": "1.6.2",
}


def test_nothing_to_do_when_everything_is_installed() -> None:
    plan = plan_install(a1111_installed(**ALL_OURS), A1111_1_10_1_PINS, worker_installed=WORKER_READY)
    assert plan.actions == []
    assert plan.pip_actions == []


def test_missing_packages_are_installed_one_action_each() -> None:
    installed = a1111_installed(**{"opencv-python": "4.11.0.86"})
    plan = plan_install(installed, A1111_1_10_1_PINS, worker_installed=WORKER_READY)
    names = [a.packages[0].split("=")[0].split("<")[0].split(">")[0] for a in plan.actions]
    assert names == [
        "ultralytics",
        "segment-anything",
        "groundingdino-py",
        "segment-anything-hq",
        "mobilesam-mirror",
        "pymatting",
        "torch-fidelity",
        "scikit-learn",
        "pysodmetrics",
    ]  # no tomli: these tests run on Python 3.11+, which has tomllib
    assert all(a.kind == "install" for a in plan.actions)
    assert all(a.message.startswith("installing ") for a in plan.actions)


def test_ultralytics_is_capped_while_the_webui_pins_old_httpx() -> None:
    """ultralytics >= 8.4.119 needs httpx >= 0.28; A1111 1.10.1 pins httpx 0.24.1 (environment-notes §0, 2a)."""
    installed = {k: v for k, v in a1111_installed(**ALL_OURS).items() if k != "ultralytics"}
    plan = plan_install(installed, A1111_1_10_1_PINS, worker_installed=WORKER_READY)
    assert [a.packages for a in plan.actions] == [("ultralytics>=8.3.0,<8.4.119",)]


def test_a_requirement_whose_marker_does_not_hold_is_not_planned() -> None:
    backport = Requirement(name="backport", accept="", install="==1.0", purpose="x", marker='python_version < "3"')
    everywhere = Requirement(name="everywhere", accept="", install="==1.0", purpose="x")
    plan = plan_install({}, {}, worker_installed=WORKER_READY, requirements=(backport, everywhere))
    assert [a.packages for a in plan.actions if a.kind == "install"] == [("everywhere==1.0",)]
    tomli = next(r for r in REQUIREMENTS if r.name == "tomli")
    assert tomli.marker == 'python_version < "3.11"'


def test_ultralytics_is_not_capped_when_the_host_allows_new_httpx() -> None:
    pins = {**A1111_1_10_1_PINS, "httpx": "0.28.1"}
    ultralytics = next(r for r in REQUIREMENTS if r.name == "ultralytics")
    assert install_spec(ultralytics, pins) == ">=8.3.0"


def test_newer_release_installed_by_another_extension_is_accepted() -> None:
    """ADetailer may have installed a newer ultralytics: replacing it would flip-flop on every start."""
    installed = a1111_installed(**{**ALL_OURS, "ultralytics": "8.4.190"})
    assert plan_install(installed, A1111_1_10_1_PINS, worker_installed=WORKER_READY).actions == []


def test_too_old_own_package_is_replaced_with_a_clear_message() -> None:
    installed = a1111_installed(**{**ALL_OURS, "ultralytics": "8.0.20"})
    plan = plan_install(installed, A1111_1_10_1_PINS, worker_installed=WORKER_READY)
    assert len(plan.actions) == 1
    assert plan.actions[0].kind == "install"
    assert "replacing ultralytics 8.0.20" in plan.actions[0].message


@pytest.mark.parametrize("variant", ["opencv-python-headless", "opencv-contrib-python"])
def test_any_opencv_variant_satisfies_opencv(variant: str) -> None:
    ours = {k: v for k, v in ALL_OURS.items() if k != "opencv-python"}
    installed = a1111_installed(**ours, **{variant: "4.9.0.80"})
    assert plan_install(installed, A1111_1_10_1_PINS, worker_installed=WORKER_READY).actions == []


def test_an_alternative_groundingdino_package_counts_as_installed() -> None:
    """Installing a second package that owns the same 'groundingdino' module would clash (env notes 4e)."""
    ours = {k: v for k, v in ALL_OURS.items() if k != "groundingdino-py"}
    installed = a1111_installed(**ours, **{"rf-groundingdino": "0.3.0"})
    assert plan_install(installed, A1111_1_10_1_PINS, worker_installed=WORKER_READY).actions == []


def test_a_pinned_package_is_never_installed_even_when_it_does_not_fit() -> None:
    """A requirement on a package the WebUI pins becomes a refusal, never a pip call."""
    pins = {**A1111_1_10_1_PINS, "opencv-python": "4.5.0.0"}
    installed = a1111_installed(**{**ALL_OURS, "opencv-python": "4.5.0.0"})
    plan = plan_install(installed, pins, worker_installed=WORKER_READY)
    assert plan.pip_actions == []
    assert [a.kind for a in plan.conflicts] == ["conflict"]
    assert "WebUI pins it" in plan.conflicts[0].message


def test_the_worker_folder_is_planned_when_host_transformers_is_too_old() -> None:
    plan = plan_install(a1111_installed(**ALL_OURS), A1111_1_10_1_PINS, worker_installed={})
    assert [a.kind for a in plan.actions] == ["worker"]
    assert plan.actions[0].packages == WORKER_PACKAGES
    assert "transformers 4.30.2" in plan.actions[0].message


def test_only_the_missing_worker_packages_are_planned() -> None:
    partial = {**WORKER_READY, "tokenizers": "0.13.3"}  # an old tokenizers: the pin's version differs
    assert WORKER_READY["tokenizers"] != "0.13.3"
    plan = plan_install(a1111_installed(**ALL_OURS), A1111_1_10_1_PINS, worker_installed=partial)
    assert plan.actions[0].packages == (f"tokenizers=={WORKER_READY['tokenizers']}",)


def test_no_worker_folder_on_forge() -> None:
    """Forge ships transformers 4.46.1 and diffusers 0.31.0: everything runs in-process (design.md, "The
    transformers conflict")."""
    forge = {**a1111_installed(**ALL_OURS), "transformers": "4.46.1", "diffusers": "0.31.0"}
    assert plan_install(forge, {"transformers": "4.46.1"}, worker_installed={}).actions == []


def test_a_new_transformers_without_diffusers_still_needs_the_worker_for_depth_fm() -> None:
    host = {**a1111_installed(**ALL_OURS), "transformers": "4.46.1"}
    plan = plan_install(host, {}, worker_installed={})
    assert [a.kind for a in plan.actions] == ["worker"]
    assert "diffusers==0.31.0" in plan.actions[0].packages
    older = {**host, "diffusers": "0.26.3"}  # too old for the LDM conversion DepthFM's loader uses
    assert [a.kind for a in plan_install(older, {}, worker_installed={}).actions] == ["worker"]


def test_skip_install_plans_nothing() -> None:
    plan = plan_install({}, A1111_1_10_1_PINS, skip_install=True)
    assert plan.skipped
    assert plan.actions == []


def test_names_are_compared_normalised() -> None:
    installed = {
        "Segment_Anything": "1.0",
        "opencv.python": "4.11.0.86",
        "Ultralytics": "8.4.118",
        "groundingdino_py": "0.4.0",
        "MobileSAM-Mirror": "1.0.0",
        "Segment_Anything.HQ": "0.3",
        "PyMatting": "1.1.16",
        "Torch_Fidelity": "0.4.0",
        "scikit.learn": "1.9.1",
        "PySODMetrics": "1.6.2",
        "transformers": "4.46.1",
        "Diffusers": "0.31.0",
    }
    assert plan_install(installed, {}).actions == []


def test_parse_pins_reads_exact_pins_and_ignores_the_rest() -> None:
    text = "setuptools==69.5.1  # temp fix\nPillow==9.5.0\ntorch\n# comment\n\npytorch_lightning==1.9.4\n"
    assert parse_pins(text) == {"setuptools": "69.5.1", "pillow": "9.5.0", "pytorch-lightning": "1.9.4"}


def test_constraints_hold_pins_and_torch_at_the_installed_versions() -> None:
    installed = {"numpy": "1.26.2", "torch": "2.1.2+cu121", "httpx": "0.24.1", "transformers": "4.30.2"}
    pins = {"numpy": "1.26.2", "httpx": "0.24.1", "transformers": "4.30.2", "gradio": "3.41.2"}
    lines = pip_constraints(installed, pins)
    assert "torch==2.1.2+cu121" in lines
    assert "numpy==1.26.2" in lines
    assert "gradio==3.41.2" in lines  # pinned but absent: held at the pin, so nothing else pulls a new one
    assert all(normalize(line.split("==")[0]) == line.split("==")[0] for line in lines)


SCALE_EXTRA = ("celery", "redis", "kombu", "billiard", "amqp", "vine")  # the scale extra and what it brings


def test_the_scale_extra_is_never_installed_into_the_webui() -> None:
    """Many servers (celery[redis]) are for worker and coordinator machines: install.py's plan names none of
    its packages, on a bare WebUI or with every one of our packages missing, and the requirement list has none."""
    assert not {normalize(r.name) for r in REQUIREMENTS} & set(SCALE_EXTRA)
    assert not {normalize(spec.split("==")[0]) for spec in WORKER_PACKAGES} & set(SCALE_EXTRA)
    for installed in (a1111_installed(), {"torch": "2.3.1", "transformers": "4.46.1"}):
        plan = plan_install(installed, A1111_1_10_1_PINS)
        assert plan.pip_actions  # the plan installs things: the check below looks at a real plan
        named = {normalize(p.split("[")[0].split("=")[0].split("<")[0].split(">")[0]) for a in plan.actions
                 for p in a.packages}  # fmt: skip
        assert not named & set(SCALE_EXTRA), named


def test_a_missing_scale_extra_is_named_with_its_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from lib_garment.scale.extra import INSTALL, ExtraMissing, require_celery

    monkeypatch.setitem(sys.modules, "celery", None)  # as if not installed: import raises ImportError
    with pytest.raises(ExtraMissing) as found:
        require_celery()
    assert INSTALL in str(found.value)
    assert found.value.exit_code == 3


FORGE_PINS = {"gradio": "4.40.0", "transformers": "4.46.1", "diffusers": "0.31.0", "pydantic": "2.8.2",
              "numpy": "1.26.2", "protobuf": "3.20.0", "pillow": "9.5.0", "httpx": "0.24.1"}  # fmt: skip


@pytest.mark.parametrize("host", ["a1111", "forge"])
def test_the_metric_packages_install_without_touching_a_pin(host: str) -> None:
    """torch-fidelity, scikit-learn and pysodmetrics are plain installs on both hosts (no conflict action), and
    pysodmetrics goes in with --no-deps: its opencv-python-headless would overwrite opencv-python's cv2 files."""
    pins = A1111_1_10_1_PINS if host == "a1111" else FORGE_PINS
    ours = {k: v for k, v in ALL_OURS.items() if k not in ("torch-fidelity", "scikit-learn", "pysodmetrics")}
    installed = {**a1111_installed(**ours), **({"diffusers": "0.31.0", **FORGE_PINS} if host == "forge" else {})}
    plan = plan_install(installed, pins, worker_installed=WORKER_READY)
    assert [(a.kind, a.packages, a.no_deps) for a in plan.actions] == [
        ("install", ("torch-fidelity==0.4.0",), False),
        ("install", ("scikit-learn==1.9.1",), False),
        ("install", ("pysodmetrics==1.6.2",), True),
    ]
    assert not plan.conflicts
