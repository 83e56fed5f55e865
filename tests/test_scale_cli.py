"""The many-servers commands refuse what cannot work within seconds, with a message naming it (exit 3 for an
unreachable broker or WebUI, 2 for a bad flag), never a hang or a traceback, and never print the broker's
password; ``status --out`` reads the catalogue's own counts, and the ETA is what is left over the workers' pace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib_garment.catalogue.jobs import plan_jobs
from lib_garment.catalogue.manifest import read_manifest
from lib_garment.catalogue.state import open_state
from lib_garment.cli import main as cli
from lib_garment.scale.broker import parse_broker, redact
from tests.catalogue_support import base_request, write_shoot
from tests.scale_support import PASSWORD, redis_server
from tests.test_run_cli import closed_port


def main(*args: object) -> int:
    try:
        return cli.main([str(a) for a in args])
    except SystemExit as exit_:
        return int(exit_.code)


def test_the_password_is_redacted_and_tls_urls_are_accepted() -> None:
    assert redact("redis://:pw1@queue.lan:6379/0") == "redis://:***@queue.lan:6379/0"
    assert redact("rediss://user:pw2@[::1]:6380/2") == "rediss://:***@[::1]:6380/2"
    assert redact("redis://queue.lan:6379/0") == "redis://queue.lan:6379/0"
    assert parse_broker("rediss://:pw@queue.lan:6380/0").tls
    assert parse_broker("rediss://:pw@queue.lan:6380/0").client().connection_pool.connection_kwargs["ssl_cert_reqs"]


@pytest.mark.parametrize("url", ["http://queue.lan:6379/0", "redis://:pw@/0", "redis://queue.lan:port/0"])
def test_a_bad_broker_url_is_refused_by_name(url: str, capsys) -> None:
    assert main("status", "--broker", url) == 2
    err = capsys.readouterr().err
    assert "--broker" in err
    assert ":pw@" not in err


def test_an_unreachable_broker_is_named_without_its_password(tmp_path: Path, capsys) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{closed_port()}/0"
    shoot = tmp_path / "shoot"
    write_shoot(shoot, 2)
    for argv in (
        ["batch", shoot, "--out", tmp_path / "out", "--request", base_request(tmp_path), "--broker", url],
        ["worker", "--broker", url, "--webui", "http://127.0.0.1:9"],
        ["status", "--broker", url],
    ):
        assert main(*argv) == 3, argv
        err = capsys.readouterr().err
        assert "the broker redis://:***@127.0.0.1:" in err
        assert "does not answer" in err
        assert PASSWORD not in err
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before the folder was touched


def test_a_worker_whose_webui_does_not_answer_is_refused_and_status_shows_none(tmp_path: Path, capsys) -> None:
    with redis_server(tmp_path / "redis") as redis:
        port = closed_port()
        assert main("worker", "--broker", redis.url, "--webui", f"http://127.0.0.1:{port}") == 3
        err = capsys.readouterr().err
        assert f"nothing answers at http://127.0.0.1:{port}" in err
        assert main("status", "--broker", redis.url) == 0
        out = capsys.readouterr().out
    assert "0 worker(s)" in out
    assert "0 queued, 0 running" in out
    assert PASSWORD not in out


def test_a_visibility_timeout_not_longer_than_a_job_is_refused(capsys) -> None:
    code = main("worker", "--broker", "redis://127.0.0.1:1/0", "--webui", "http://127.0.0.1:9", "--timeout", 60,
                "--visibility-timeout", 60)  # fmt: skip
    assert code == 2
    assert "must be longer than the longest job" in capsys.readouterr().err


def test_status_reads_the_catalogue_it_is_given_and_refuses_a_folder_without_one(tmp_path: Path, capsys) -> None:
    with redis_server(tmp_path / "redis") as redis:
        assert main("status", "--broker", redis.url, "--out", tmp_path / "nothing") == 2
        assert "--out " in capsys.readouterr().err
        out = tmp_path / "shop"
        state = open_state(out)
        try:
            state.sync(plan_jobs(read_manifest(str(_shoot(tmp_path))), json.loads(base_request(tmp_path).read_text())))
            first = state.pending_ids()[0]
            state.start(first, "http://gpu1")
            state.fail(first, "refused", None, "http://gpu1", 0.1)
        finally:
            state.close()
        assert main("status", "--broker", redis.url, "--out", out, "--json") == 0
        found = json.loads(capsys.readouterr().out)
    assert found["catalogue"] == {"folder": str(out), "pending": 2, "running": 0, "done": 0, "failed": 1}
    assert found["left"] == 2
    assert found["eta_s"] is None  # no worker has a pace yet
    assert PASSWORD not in json.dumps(found)


def _shoot(tmp_path: Path) -> Path:
    write_shoot(tmp_path / "shoot", 3)
    return tmp_path / "shoot"


def test_the_eta_is_what_is_left_over_the_taking_workers_pace() -> None:
    from lib_garment.scale.status import QueueState, WorkerState

    def worker(name: str, state: str, done: int, busy_s: float) -> WorkerState:
        return WorkerState(name, "http://" + name, state, "", done, 0, busy_s, 0.0)

    # Two workers at 2 jobs a second each; a stopped one does not count.
    workers = [worker("a", "taking jobs", 4, 2.0), worker("b", "taking jobs", 2, 1.0), worker("c", "stopped", 9, 1.0)]
    broker_only = QueueState(workers, queued=6, running=2)
    assert broker_only.eta_s == 8 / 4
    with_catalogue = QueueState(workers, queued=6, running=2, catalogue={"pending": 38, "running": 2, "done": 5,
                                                                         "failed": 1})  # fmt: skip
    assert with_catalogue.left == 40
    assert with_catalogue.eta_s == 40 / 4
    assert QueueState(workers, catalogue={"pending": 0, "running": 0, "done": 3, "failed": 0}).eta_s == 0.0
