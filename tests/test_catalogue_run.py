"""``python -m lib_garment batch``: a catalogue generated on host doubles served over real HTTP — one job at a
time per server with a shared queue, the outputs, results.csv and contact sheet, resuming, an edited row, a
server that fails (taken out, its job done elsewhere), job failures that do not stop the batch, the local
plain-background jobs, and a full disk."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from lib_garment import imageio
from lib_garment.cli import main as cli
from tests.catalogue_support import Dying, Faulty, Latency, base_request, servers, write_csv, write_shoot
from tests.test_run_cli import closed_port


def batch(*args: object) -> int:
    try:
        return cli.main(["batch", *map(str, args)])
    except SystemExit as exit_:
        return int(exit_.code)


def command(source: Path, out: Path, tmp_path: Path, urls: list[str], *extra: object) -> list[object]:
    webuis = [word for url in urls for word in ("--webui", url)]
    return [source, "--out", out, "--request", base_request(tmp_path), "--models-dir", tmp_path / "models",
            "--offline", *webuis, *extra]  # fmt: skip


def results(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.suffix in (".png", ".jpg", ".webp")
    }


def statuses(out: Path) -> dict[tuple[str, int], str]:
    with sqlite3.connect(out / "batch.sqlite") as db:
        rows = db.execute("SELECT sku, variant, status FROM jobs WHERE current = 1").fetchall()
    return {(sku, variant): status for sku, variant, status in rows}


class Counting:
    """The app, counting img2img calls."""

    def __init__(self, app: Any) -> None:
        self.app, self.calls = app, 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/img2img"):
            self.calls += 1
        await self.app(scope, receive, send)


def test_a_folder_runs_on_two_servers_exactly_once_and_resumes_without_work(webui, tmp_path: Path, capsys) -> None:
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    skus = write_shoot(shoot, 6)
    counters: list[Counting] = []

    def counted(seconds: float):
        def wrap(app: Any) -> Any:
            counters.append(Counting(Latency(app, seconds)))
            return counters[-1]

        return wrap

    with servers(webui, counted(0.3), counted(0.3)) as urls:
        code = batch(*command(shoot, out, tmp_path, urls))
        err = capsys.readouterr().err
        assert code == 0, err
        first = digests(out)
        assert batch(*command(shoot, out, tmp_path, urls)) == 0  # resumed: everything is done
        again = capsys.readouterr().err
    assert "6 job(s): 6 done already, 0 to run" in again
    assert sum(c.calls for c in counters) == 6  # one img2img per job, none on the second run
    assert all(c.calls >= 1 for c in counters)  # the queue was shared: both servers worked
    assert digests(out) == first

    rows = results(out)
    assert [(r["sku"], r["variant"], r["status"], r["kept_exact"]) for r in rows] == [
        (s, "1", "done", "yes") for s in skus
    ]
    assert {r["server"] for r in rows} == set(urls)
    for sku, row in zip(skus, rows, strict=True):
        photo = imageio.read_image(shoot / f"{sku}.png")
        result = imageio.read_image(out / row["file"])
        kept = imageio.read_mask(out / sku / "alpha.png") == 255
        assert kept.sum() > 1000
        assert np.array_equal(result[kept], photo[kept])  # the product's pixels are the photographed ones
        assert not np.array_equal(result[~kept], photo[~kept])
        assert (out / sku / "result.json").is_file()
        assert (out / sku / f"{sku}-1.thumb.jpg").is_file()
    sheet = (out / "index.html").read_text()
    assert all(f'data-sku="{sku}" data-status="done"' in sheet for sku in skus)
    assert sheet.count("kept: exact") == 6
    assert "Product kept: 100.000 % of α=1 pixels identical (6/6 results exact) · seam " in err
    assert json.loads((out / "fidelity.json").read_text())["overall"]["exact_results"] == 6


def test_an_edited_row_runs_again_and_only_it(webui, tmp_path: Path, capsys) -> None:
    write_shoot(tmp_path, 3)
    rows = [{"sku": f"S{k}", "image": f"SKU-00{k}.png", "mask": f"SKU-00{k}.mask.png", "prompt": "studio"}
            for k in range(3)]  # fmt: skip
    rows[0]["variants"] = 2
    out = tmp_path / "out"
    counter: list[Counting] = []
    with servers(webui, lambda app: counter.append(Counting(app)) or counter[-1]) as urls:
        assert batch(*command(write_csv(tmp_path / "m.csv", rows), out, tmp_path, urls)) == 0
        before = {r["sku"] + r["variant"]: r for r in results(out)}
        rows[2]["prompt"] = "on a beach"
        assert batch(*command(write_csv(tmp_path / "m.csv", rows), out, tmp_path, urls)) == 0
    assert counter[0].calls == 5  # four jobs, then the edited one
    after = {r["sku"] + r["variant"]: r for r in results(out)}
    assert list(after) == ["S01", "S02", "S11", "S21"]
    assert before["S01"]["seed"] != before["S02"]["seed"]  # variants have their own seeds
    assert before["S11"] == after["S11"]
    assert after["S21"]["file"] == before["S21"]["file"]
    assert after["S21"]["status"] == "done"
    capsys.readouterr()


FAULTS = {
    "HTTP 500": lambda app: Faulty(app, 500, b'{"detail": "CUDA out of memory"}'),
    "not an image": lambda app: Faulty(app, 200, b'{"images": ["bm90IGFuIGltYWdl"]}'),
    "dies mid-job": Dying,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_failing_server_is_taken_out_and_its_jobs_are_done_elsewhere(
    webui, tmp_path: Path, capsys, fault: str
) -> None:
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    write_shoot(shoot, 4)
    faulty: list[Any] = []
    with servers(webui, lambda app: faulty.append(FAULTS[fault](app)) or faulty[-1],
                 lambda app: Latency(app, 0.2)) as urls:  # fmt: skip
        code = batch(*command(shoot, out, tmp_path, urls))
    err = capsys.readouterr().err
    assert code == 0, err
    assert faulty[0].calls == 1  # taken out after its first failure
    assert f"note: server {urls[0]} taken out" in err
    assert {r["server"] for r in results(out)} == {urls[1]}
    with sqlite3.connect(out / "batch.sqlite") as db:
        (attempts,) = db.execute("SELECT COUNT(*) FROM attempts WHERE server = ?", (urls[0],)).fetchone()
        (tries,) = db.execute("SELECT MAX(attempts) FROM jobs").fetchone()
    assert attempts == 1
    assert tries == 2


def test_when_no_server_is_left_the_run_stops_with_exit_3_and_resumes_later(webui, tmp_path: Path, capsys) -> None:
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    write_shoot(shoot, 3)
    with servers(webui, lambda app: Faulty(app, 502, b"{}")) as urls:
        assert batch(*command(shoot, out, tmp_path, urls)) == 3
    err = capsys.readouterr().err
    assert "no server left" in err
    assert set(statuses(out).values()) == {"pending"}  # nothing failed: the server did
    with servers(webui, None) as urls:
        assert batch(*command(shoot, out, tmp_path, urls)) == 0
    assert set(statuses(out).values()) == {"done"}
    capsys.readouterr()


def test_servers_are_checked_before_anything_runs(webui, tmp_path: Path, capsys) -> None:
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    write_shoot(shoot, 2)
    down = f"http://127.0.0.1:{closed_port()}"
    assert batch(*command(shoot, out, tmp_path, [down])) == 3
    assert "no usable WebUI" in capsys.readouterr().err
    assert not out.exists()
    assert batch(shoot, "--out", out, "--keep", "red") == 2  # generation needs a server
    assert "only a WebUI generates: give --webui URL" in capsys.readouterr().err
    with servers(webui, None) as urls:
        assert batch(*command(shoot, out, tmp_path, [down, *urls])) == 0
    assert f"warning: {down} is left out" in capsys.readouterr().err


class Refusing:
    """The app, answering 422 to the jobs whose prompt says so (a request the server cannot take)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/img2img"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if b"refuse me" not in body:
            replayed = False

            async def replay() -> dict:  # the body once, then the real channel (disconnects)
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send)
            return
        answer = b'{"detail": "the request is not valid"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 422, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def test_failed_jobs_do_not_stop_the_batch_max_failures_and_retry_failed(webui, tmp_path: Path, capsys) -> None:
    write_shoot(tmp_path, 5)
    rows = [{"sku": f"S{k}", "image": f"SKU-00{k}.png", "mask": f"SKU-00{k}.mask.png",
             "prompt": "refuse me" if k in (1, 3) else "studio"} for k in range(5)]  # fmt: skip
    manifest, out = write_csv(tmp_path / "m.csv", rows), tmp_path / "out"
    with servers(webui, Refusing) as urls:
        assert batch(*command(manifest, out, tmp_path, urls, "--max-failures", 1)) == 1
        err = capsys.readouterr().err
        assert "--max-failures limit" in err
        assert statuses(out) == {("S0", 1): "done", ("S1", 1): "failed", ("S2", 1): "pending",
                                 ("S3", 1): "pending", ("S4", 1): "pending"}  # fmt: skip
        assert batch(*command(manifest, out, tmp_path, urls)) == 1  # the rest runs; S3 fails too, S1 is not retried
        err = capsys.readouterr().err
        assert "failed: S1 #1 (row 3): the img2img call failed" in err
        assert "HTTP 422" in err
        assert statuses(out) == {("S0", 1): "done", ("S1", 1): "failed", ("S2", 1): "done",
                                 ("S3", 1): "failed", ("S4", 1): "done"}  # fmt: skip
        failed = {r["sku"]: r["error"] for r in results(out) if r["status"] == "failed"}
        assert set(failed) == {"S1", "S3"}
        assert all("422" in e for e in failed.values())
        assert "the request is not valid" in (out / "index.html").read_text()

        rows[1]["prompt"] = "studio"  # the seller fixes one row: a new job; --retry-failed runs only failed ones
        manifest = write_csv(tmp_path / "m.csv", rows)
        assert batch(*command(manifest, out, tmp_path, urls, "--retry-failed")) == 1
        err = capsys.readouterr().err
    assert statuses(out) == {("S0", 1): "done", ("S1", 1): "pending", ("S2", 1): "done",
                             ("S3", 1): "failed", ("S4", 1): "done"}  # fmt: skip
    assert "1 failed job(s) queued again (only these run)" in err


def test_a_plain_background_runs_here_with_no_server(tmp_path: Path, capsys) -> None:
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    skus = write_shoot(shoot, 2)
    code = batch(shoot, "--out", out, "--preset", "amazon-main", "--background", "white", "--models-dir",
                 tmp_path / "models", "--offline")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    rows = results(out)
    assert [(r["sku"], r["status"], r["server"], r["kept_exact"]) for r in rows] == [(s, "done", "", "") for s in skus]
    assert all(r["compliance"] in ("pass", "warn", "fail") for r in rows)
    picture = Image.open(out / rows[0]["file"])
    assert np.all(np.asarray(picture.convert("RGB"))[0, 0] == 255)  # on white
    assert (out / skus[0] / f"{skus[0]}-1-alpha.png").is_file()
    passed = sum(r["compliance"] == "pass" for r in rows)  # nothing generated: compliance is the figure
    assert (
        f"{len(skus)} photo(s) framed as photographed, nothing generated · compliance {passed}/{len(skus)} pass" in err
    )


def test_a_full_disk_stops_the_run_with_a_clear_error_and_a_consistent_database(
    webui, tmp_path: Path, capsys, monkeypatch
) -> None:
    shoot, out, reference = tmp_path / "shoot", tmp_path / "out", tmp_path / "reference"
    write_shoot(shoot, 4)
    real = imageio._write_atomic
    written = []

    def filling(path: Path, write: Any) -> Path:
        if "SKU-002" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path)
        return real(path, write)

    with servers(webui, None) as urls:
        monkeypatch.setattr(imageio, "_write_atomic", filling)
        assert batch(*command(shoot, out, tmp_path, urls)) == 1
        err = capsys.readouterr().err
        assert "the disk is full writing SKU-002 #1" in err
        assert statuses(out) == {("SKU-000", 1): "done", ("SKU-001", 1): "done", ("SKU-002", 1): "pending",
                                 ("SKU-003", 1): "pending"}  # fmt: skip
        monkeypatch.setattr(imageio, "_write_atomic", real)
        assert batch(*command(shoot, out, tmp_path, urls)) == 0
        assert batch(*command(shoot, reference, tmp_path, urls)) == 0
    assert digests(out) == digests(reference)  # byte for byte what an uninterrupted run makes
    capsys.readouterr()


def test_a_dry_run_writes_nothing(webui, tmp_path: Path, capsys) -> None:
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    write_shoot(shoot, 2)
    with servers(webui, None) as urls:
        assert batch(*command(shoot, out, tmp_path, urls, "--dry-run")) == 0
    printed = capsys.readouterr().out
    assert "would run: SKU-000 #1 (row 1, seed" in printed
    assert "would run: SKU-001 #1" in printed
    assert not out.exists()


def test_a_model_missing_offline_ends_the_run_with_exit_3_and_loses_nothing(webui, tmp_path: Path, capsys) -> None:
    """Segmenting by a phrase needs GroundingDINO: with none on disk offline the first job stops the run (every
    job would need it), naming the file and its folder; the jobs stay pending, nothing is marked failed."""
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    write_shoot(shoot, 3, masks=False)
    with servers(webui, None) as urls:
        assert batch(*command(shoot, out, tmp_path, urls, "--keep", "red shirt")) == 3
    err = capsys.readouterr().err
    assert "groundingdino_swint_ogc.pth" in err
    assert str(tmp_path / "models" / "garment_studio" / "grounding-dino") in err
    assert set(statuses(out).values()) == {"pending"}
