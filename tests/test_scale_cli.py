"""The many-servers commands refuse what cannot work within seconds, with a message naming it (exit 3 for an
unreachable broker or WebUI, 2 for a bad flag), never a hang or a traceback, and never print the broker's
password."""

from __future__ import annotations

from pathlib import Path

import pytest

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
