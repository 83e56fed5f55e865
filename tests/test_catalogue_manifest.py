"""A catalogue's manifest: every row checked before anything runs, every problem listed with its row number
(exit 2, nothing written), and the jobs' ids: the same for an unchanged row, new for an edited one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib_garment.catalogue.jobs import plan_jobs
from lib_garment.catalogue.manifest import ManifestProblems, read_manifest
from lib_garment.cli import main as cli
from tests.catalogue_support import UNITS, write_csv, write_shoot


def batch(*args: object) -> int:
    try:
        return cli.main(["batch", *map(str, args)])
    except SystemExit as exit_:
        return int(exit_.code)


def test_every_problem_of_a_manifest_is_named_with_its_row_and_nothing_is_written(tmp_path: Path, capsys) -> None:
    write_shoot(tmp_path, 3)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "small.png").write_bytes((tmp_path / "SKU-000.png").read_bytes())
    from PIL import Image

    Image.new("L", (10, 10), 255).save(tmp_path / "tiny-mask.png")
    manifest = write_csv(tmp_path / "catalogue.csv", [
        {"sku": "A1", "image": "SKU-000.png", "keep": "red shirt"},
        {"sku": "A1", "image": "SKU-001.png", "keep": "red shirt"},  # 3: duplicate
        {"sku": "B2", "image": "missing.png", "keep": "red shirt"},  # 4
        {"sku": "C3", "image": "broken.png", "keep": "red shirt"},  # 5
        {"sku": "D4", "image": "SKU-001.png", "keep": "x", "request": "{not json"},  # 6
        {"sku": "E5", "image": "SKU-001.png", "keep": "x", "preset": "no-such-shop"},  # 7
        {"sku": "F6", "image": "small.png", "mask": "tiny-mask.png"},  # 8
        {"sku": "G7", "image": "SKU-002.png", "keep": "x", "variants": "0"},  # 9
        {"sku": "../up", "image": "SKU-002.png", "keep": "x"},  # 10
        {"sku": "H8", "image": "SKU-002.png", "keep": "x", "request": {"generation": {"steps": -3}}},  # 11
        {"sku": "I9", "image": "SKU-002.png"},  # 12: nothing to keep
    ])  # fmt: skip
    out = tmp_path / "out"
    code = batch(manifest, "--out", out, "--webui", "http://127.0.0.1:9")
    err = capsys.readouterr().err
    assert code == 2, err
    expected = {
        "row 3 (A1): duplicate sku (first on row 2)",
        "row 4 (B2): image: photo not found",
        "row 5 (C3): image: cannot read photo",
        "row 6 (D4): request is not valid JSON",
        "row 7 (E5): preset: ",
        "row 8 (F6): mask: tiny-mask.png is 10×10, the photo 96×72",
        "row 9 (G7): variants must be 1 to 64, got 0",
        "row 10: sku '../up' cannot name a folder",
        "row 11 (H8): request.generation.steps",
        "row 12 (I9): say what to keep",
    }
    for text in expected:
        assert text in err, text
    assert "no-such-shop" in err
    assert "10 problem(s), nothing was run" in err
    assert not out.exists()


def test_unknown_columns_and_a_bad_jsonl_line_are_named(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("sku,image,colour\nA,a.png,red\n")
    assert read_manifest(tmp_path / "a.csv").problems[0].startswith("header: unknown column(s) 'colour'")
    (tmp_path / "a.jsonl").write_text(
        '{"sku": "A", "image": "a.png"}\n{oops\n[1]\n{"sku": "B", "image": "b.png", "size": 3}\n'
    )
    manifest = read_manifest(tmp_path / "a.jsonl")
    assert [row.sku for row in manifest.rows] == ["A", "B"]
    with pytest.raises(ManifestProblems) as caught:
        plan_jobs(manifest, {})
    for problem in (
        "row 2: not valid JSON (Expecting property name enclosed in double quotes)",
        "row 3: must be a JSON object",
        "row 4: unknown field(s) 'size' (fields: sku, image, mask, keep, task, prompt, negative_prompt, preset, "
        "variants, seed, request)",
    ):
        assert problem in caught.value.problems


def test_a_folder_is_a_manifest_with_masks_beside_the_photos(tmp_path: Path) -> None:
    write_shoot(tmp_path, 2)
    write_shoot(tmp_path, 1, masks=False, start=5)
    (tmp_path / "notes.txt").write_text("not a photo")
    manifest = read_manifest(tmp_path)
    assert [(r.sku, r.image.name, r.mask.name if r.mask else None) for r in manifest.rows] == [
        ("SKU-000", "SKU-000.png", "SKU-000.mask.png"),
        ("SKU-001", "SKU-001.png", "SKU-001.mask.png"),
        ("SKU-005", "SKU-005.png", None),
    ]


def test_job_ids_follow_the_photo_the_mask_and_the_request(tmp_path: Path) -> None:
    write_shoot(tmp_path, 2)
    rows = [
        {"sku": "A", "image": "SKU-000.png", "mask": "SKU-000.mask.png", "variants": 2},
        {"sku": "B", "image": "SKU-001.png", "mask": "SKU-001.mask.png", "seed": 40, "prompt": "on a beach"},
    ]
    base = {"control": UNITS}

    def ids(rows: list[dict], base: dict = base) -> list[tuple[str, int, str, int]]:
        jobs = plan_jobs(read_manifest(write_csv(tmp_path / "m.csv", rows)), base)
        return [(job.sku, job.variant, job.id, job.seed) for job in jobs]

    first = ids(rows)
    assert [(sku, variant) for sku, variant, _, _ in first] == [("A", 1), ("A", 2), ("B", 1)]
    assert first == ids(rows)  # the same manifest: the same ids and seeds, so a resumed run skips them
    (_, _, a1, seed1), (_, _, a2, seed2), (_, _, b1, seed_b) = first
    assert seed2 == seed1 + 1
    assert seed_b == 40
    assert len({a1, a2, b1}) == 3

    edited = [rows[0], {**rows[1], "prompt": "in a garden"}]
    assert [job[2] for job in ids(edited)] == [a1, a2, ids(edited)[2][2]]
    assert ids(edited)[2][2] != b1
    assert all(job[2] not in (a1, a2, b1) for job in ids(rows, {**base, "negative_prompt": "blurry"}))
    (tmp_path / "SKU-001.png").write_bytes((tmp_path / "SKU-000.png").read_bytes())  # the photo replaced
    assert ids(rows)[2][2] != b1


def test_a_row_request_is_laid_over_the_base_and_columns_over_both(tmp_path: Path) -> None:
    write_shoot(tmp_path, 1)
    row = {
        "sku": "A", "image": "SKU-000.png", "keep": "red shirt", "prompt": "column prompt",
        "request": json.dumps({"prompt": "row prompt", "generation": {"steps": 9}}),
    }  # fmt: skip
    (job,) = plan_jobs(read_manifest(write_csv(tmp_path / "m.csv", [row])), {"generation": {"cfg_scale": 4.5}})
    assert job.request.prompt == "column prompt"
    assert (job.request.generation.steps, job.request.generation.cfg_scale) == (9, 4.5)
    assert job.request.segment.phrases == "red shirt"
    assert job.request.generation.batch_count == 1
