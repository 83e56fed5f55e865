"""Downloads against a loopback server: resume, mirrors, verification, atomic rename, clear failures."""

from __future__ import annotations

import hashlib
import io
import itertools
import threading
from pathlib import Path

import pytest

from lib_garment.errors import ModelUnavailable
from lib_garment.models.download import DownloadFailed, download, part_path
from lib_garment.models.progress import TqdmProgress
from lib_garment.models.verify import ChecksumMismatch
from tests.test_models_loopback import LoopbackServer, refuse_other_hosts

BODY = bytes(range(256)) * 10_000  # 2.56 MB: several 1 MiB reads, so progress has more than one step
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_other_hosts(monkeypatch)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def __call__(self, label: str, done: int, total: int | None) -> None:
        self.calls.append((label, done, total))

    @property
    def counts(self) -> list[int]:
        return [done for _, done, _ in self.calls]


def monotonic(values: list[int]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(values))


def test_download_lands_whole_and_reports_monotonic_progress(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.serve("/sam.pth", BODY)
    dest = tmp_path / "models" / "sam.pth"
    progress = Recorder()
    fetched = download([url], dest, sha256=SHA, size=len(BODY), progress=progress)
    assert dest.read_bytes() == BODY
    assert (fetched.sha256, fetched.size, fetched.url) == (SHA, len(BODY), url)
    assert not part_path(dest).exists()
    assert progress.counts[0] == 0
    assert progress.counts[-1] == len(BODY)
    assert monotonic(progress.counts)
    assert len(progress.calls) > 2
    assert {label for label, _, _ in progress.calls} == {"download sam.pth"}
    assert {total for _, _, total in progress.calls} == {len(BODY)}


def test_resume_asks_only_for_the_missing_bytes(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.serve("/sam.pth", BODY)
    dest = tmp_path / "sam.pth"
    half = len(BODY) // 2
    part_path(dest).write_bytes(BODY[:half])
    progress = Recorder()
    download([url], dest, sha256=SHA, size=len(BODY), progress=progress)
    assert dest.read_bytes() == BODY
    assert [r.range for r in server.hits("/sam.pth")] == [f"bytes={half}-"]
    assert progress.counts[0] == half
    assert progress.counts[-1] == len(BODY)
    assert monotonic(progress.counts)


def test_server_that_ignores_range_is_followed_from_zero(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.serve("/sam.pth", BODY, ranges=False)
    dest = tmp_path / "sam.pth"
    part_path(dest).write_bytes(BODY[:1000])
    progress = Recorder()
    download([url], dest, sha256=SHA, size=len(BODY), progress=progress)
    assert dest.read_bytes() == BODY  # not the old 1000 bytes followed by the whole file again
    assert server.hits("/sam.pth")[0].range == "bytes=1000-"
    assert progress.counts[0] == 0
    assert monotonic(progress.counts)


def test_broken_connection_keeps_the_part_and_the_next_run_resumes(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.serve("/sam.pth", BODY, cut_after=300_000)
    dest = tmp_path / "sam.pth"
    with pytest.raises(DownloadFailed) as caught:
        download([url], dest, sha256=SHA, size=len(BODY))
    message = str(caught.value)
    assert "after 300,000" in message
    assert "is kept" in message
    assert str(part_path(dest)) in message
    assert not dest.exists()
    assert part_path(dest).stat().st_size == 300_000
    server.serve("/sam.pth", BODY)  # the server recovers
    download([url], dest, sha256=SHA, size=len(BODY))
    assert dest.read_bytes() == BODY
    assert server.hits("/sam.pth")[-1].range == "bytes=300000-"


def test_hash_mismatch_is_refused_and_nothing_stays_under_the_final_name(
    server: LoopbackServer, tmp_path: Path
) -> None:
    tampered = bytearray(BODY)
    tampered[12345] ^= 0xFF
    url = server.serve("/sam.pth", bytes(tampered))
    dest = tmp_path / "sam.pth"
    with pytest.raises(ChecksumMismatch) as caught:
        download([url], dest, sha256=SHA, size=len(BODY))
    assert isinstance(caught.value, ModelUnavailable)
    assert SHA in str(caught.value)
    assert hashlib.sha256(tampered).hexdigest() in str(caught.value)
    assert not dest.exists()
    assert not part_path(dest).exists()
    assert list(tmp_path.iterdir()) == []


def test_size_mismatch_is_refused_before_the_body_is_read(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.serve("/sam.pth", BODY + b"extra")
    dest = tmp_path / "sam.pth"
    with pytest.raises(DownloadFailed, match=f"offers {len(BODY) + 5:,} bytes, expected {len(BODY):,}"):
        download([url], dest, sha256=SHA, size=len(BODY))
    assert not dest.exists()
    assert not part_path(dest).exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (BODY[:-10], f"closed after {len(BODY) - 10:,} of {len(BODY):,} bytes"),
        (BODY + bytes(10), f"sent more than the expected {len(BODY):,} bytes"),
    ],
)
def test_size_mismatch_without_a_content_length_is_caught_while_reading(
    server: LoopbackServer, tmp_path: Path, body: bytes, message: str
) -> None:
    url = server.serve("/f.json", body, no_length=True)
    dest = tmp_path / "f.json"
    with pytest.raises(ModelUnavailable, match=message):
        download([url], dest, sha256=None, size=len(BODY))
    assert not dest.exists()
    assert not part_path(dest).exists()


def test_a_body_without_content_length_is_read_to_the_end(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.serve("/sam.pth", BODY, no_length=True)
    dest = tmp_path / "sam.pth"
    progress = Recorder()
    download([url], dest, sha256=SHA, size=None, progress=progress)
    assert dest.read_bytes() == BODY
    assert monotonic(progress.counts)
    assert {total for _, _, total in progress.calls} == {None}


def test_mirrors_are_tried_in_order_after_404_and_500(server: LoopbackServer, tmp_path: Path) -> None:
    missing = server.url("/gone/sam.pth")
    broken = server.serve("/broken/sam.pth", BODY, status=500)
    good = server.serve("/good/sam.pth", BODY)
    dest = tmp_path / "sam.pth"
    fetched = download([missing, broken, good], dest, sha256=SHA, size=len(BODY))
    assert fetched.url == good
    assert dest.read_bytes() == BODY
    assert [r.path for r in server.requests] == ["/gone/sam.pth", "/broken/sam.pth", "/good/sam.pth"]


def test_a_mirror_serving_other_bytes_is_skipped(server: LoopbackServer, tmp_path: Path) -> None:
    wrong = server.serve("/wrong/sam.pth", bytes(len(BODY)))
    good = server.serve("/good/sam.pth", BODY)
    dest = tmp_path / "sam.pth"
    assert download([wrong, good], dest, sha256=SHA, size=len(BODY)).url == good
    assert dest.read_bytes() == BODY
    assert server.hits("/good/sam.pth")[0].range is None  # the wrong bytes were not resumed from


def test_every_mirror_failing_names_each_answer(server: LoopbackServer, tmp_path: Path) -> None:
    missing = server.url("/gone/sam.pth")
    broken = server.serve("/broken/sam.pth", BODY, status=503)
    with pytest.raises(DownloadFailed) as caught:
        download([missing, broken], tmp_path / "sam.pth", sha256=SHA, size=len(BODY))
    message = str(caught.value)
    assert "could not download sam.pth" in message
    assert f"{missing}: HTTP 404" in message
    assert f"{broken}: HTTP 503" in message


def test_a_stalled_server_times_out_with_a_message(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.serve("/slow.pth", BODY, stall=threading.Event())
    with pytest.raises(DownloadFailed, match=r"no answer from 127\.0\.0\.1 within 0\.3 s \(timed out\)"):
        download([url], tmp_path / "slow.pth", sha256=SHA, size=len(BODY), timeout=0.3)


def test_a_refused_connection_is_named(tmp_path: Path) -> None:
    with LoopbackServer() as closed:
        url = closed.url("/sam.pth")
    with pytest.raises(DownloadFailed, match="refused the connection"):
        download([url], tmp_path / "sam.pth", sha256=SHA)


def test_a_damaged_part_from_an_earlier_run_is_discarded_and_fetched_again(
    server: LoopbackServer, tmp_path: Path
) -> None:
    url = server.serve("/sam.pth", BODY)
    dest = tmp_path / "sam.pth"
    part_path(dest).write_bytes(b"\0" * 5000)  # same length as a real prefix, wrong bytes
    download([url], dest, sha256=SHA, size=len(BODY))
    assert dest.read_bytes() == BODY
    assert [r.range for r in server.hits("/sam.pth")] == ["bytes=5000-", None]


def test_a_complete_part_is_verified_and_renamed_without_a_request(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.serve("/sam.pth", BODY)
    dest = tmp_path / "sam.pth"
    part_path(dest).write_bytes(BODY)
    download([url], dest, sha256=SHA, size=len(BODY))
    assert dest.read_bytes() == BODY
    assert server.requests == []


def test_without_a_hash_bytes_from_two_mirrors_are_never_spliced(server: LoopbackServer, tmp_path: Path) -> None:
    first = server.serve("/a/vocab.txt", BODY, cut_after=1000)
    second = server.serve("/b/vocab.txt", BODY)
    dest = tmp_path / "vocab.txt"
    download([first, second], dest, sha256=None, size=None)
    assert dest.read_bytes() == BODY
    assert server.hits("/b/vocab.txt")[0].range is None


def test_an_unsupported_scheme_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="unsupported URL scheme 'ftp'"):
        download(["ftp://example.invalid/x.pth"], tmp_path / "x.pth", sha256=SHA)


def test_tqdm_progress_follows_absolute_counts_and_restarts() -> None:
    out = io.StringIO()
    bars = TqdmProgress(file=out)
    for done in (0, 400, 800):
        bars("download a.pth", done, 1000)
    bars("download a.pth", 0, 1000)  # a restart from zero
    bars("download a.pth", 1000, 1000)  # completes and closes the bar
    assert bars._bars == {}  # the finished bar was closed
    bars.close()
    text = out.getvalue()
    assert "download a.pth" in text
    assert "100%" in text


def test_a_progress_callback_can_cancel_and_the_part_is_kept_for_later(server: LoopbackServer, tmp_path: Path) -> None:
    url = server.serve("/sam.pth", BODY)
    dest = tmp_path / "sam.pth"

    class Interrupted(Exception):
        pass

    def cancel_after_first_chunk(label: str, done: int, total: int | None) -> None:
        if done > 0:
            raise Interrupted

    with pytest.raises(Interrupted):
        download([url], dest, sha256=SHA, size=len(BODY), progress=cancel_after_first_chunk)
    assert not dest.exists()
    kept = part_path(dest).stat().st_size
    assert 0 < kept < len(BODY)
    download([url], dest, sha256=SHA, size=len(BODY))
    assert dest.read_bytes() == BODY
    assert server.hits("/sam.pth")[-1].range == f"bytes={kept}-"
