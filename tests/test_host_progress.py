"""Model downloads in the WebUI's progress: bytes → ``shared.state`` (textinfo, the step counters), the console
bar beside it, and the Interrupt button cancelling a download whose partial file the next attempt resumes.
Against the host double's ``shared.state`` (both flavours) and a loopback HTTP server."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from lib_garment.host.webui.progress import DownloadInterrupted, WebUIProgress, describe, webui_progress
from lib_garment.models.download import download, part_path
from lib_garment.models.progress import TqdmProgress
from tests.test_models_loopback import LoopbackServer, refuse_other_hosts

BODY = bytes(range(256)) * 10_000  # 2.56 MB: several 1 MiB reads
SHA = hashlib.sha256(BODY).hexdigest()
LABEL = "download sam_vit_b_01ec64.pth"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    refuse_other_hosts(monkeypatch)
    with LoopbackServer() as srv:
        yield srv


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []
        self.closed = 0

    def __call__(self, label: str, done: int, total: int | None) -> None:
        self.calls.append((label, done, total))

    def close(self) -> None:
        self.closed += 1


def test_the_line_names_the_work_the_file_and_decimal_megabytes() -> None:
    assert describe(LABEL, 12_300_000, 375_000_000) == "Garment Studio: downloading sam_vit_b_01ec64.pth 12.3/375.0 MB"
    assert describe("verify mobile_sam.pt", 0, 40_728_226) == "Garment Studio: verifying mobile_sam.pt 0.0/40.7 MB"
    assert describe("download vocab.txt", 231_508, None) == "Garment Studio: downloading vocab.txt 0.2 MB"
    assert describe("unpack something", 1_000_000, 2_000_000) == "Garment Studio: unpack something 1.0/2.0 MB"


def test_bytes_fill_the_current_jobs_slice_and_the_state_is_put_back(any_webui) -> None:
    state = any_webui.shared.state
    state.begin(job="txt2img")
    state.job_count, state.job_no = 4, 1
    state.textinfo, state.sampling_step, state.sampling_steps = "Sampling", 3, 20
    console = Recorder()
    progress = WebUIProgress(console=console)  # the WebUI's own shared.state by default
    assert progress.state is state

    progress(LABEL, 0, 375_000_000)
    progress(LABEL, 12_300_000, 375_000_000)
    assert state.textinfo == "Garment Studio: downloading sam_vit_b_01ec64.pth 12.3/375.0 MB"
    assert (state.sampling_step, state.sampling_steps) == (12_300_000, 375_000_000)
    assert (state.job_count, state.job_no) == (4, 1)  # images of the generation, not downloads: untouched
    progress(LABEL, 375_000_000, 375_000_000)  # done: the generation's own progress is back
    assert (state.textinfo, state.sampling_step, state.sampling_steps) == ("Sampling", 3, 20)
    assert console.calls == [
        (LABEL, 0, 375_000_000),
        (LABEL, 12_300_000, 375_000_000),
        (LABEL, 375_000_000, 375_000_000),
    ]

    progress("download vocab.txt", 100_000, None)  # unknown size: the line, but no bar to fill
    assert state.textinfo == "Garment Studio: downloading vocab.txt 0.1 MB"
    assert (state.sampling_step, state.sampling_steps) == (3, 20)
    progress.close()
    assert state.textinfo == "Sampling"
    assert console.closed == 1


def test_interrupt_cancels_and_puts_the_state_back(any_webui) -> None:
    state = any_webui.shared.state
    state.textinfo, state.sampling_step, state.sampling_steps = None, 0, 0
    progress = WebUIProgress(console=None)
    progress(LABEL, 1_000_000, 375_000_000)
    state.interrupt()  # the Interrupt button
    with pytest.raises(DownloadInterrupted, match=r"sam_vit_b_01ec64.pth was interrupted at 2.0 MB.*resumes"):
        progress(LABEL, 2_000_000, 375_000_000)
    assert (state.textinfo, state.sampling_step, state.sampling_steps) == (None, 0, 0)


def test_interrupting_a_real_download_keeps_the_part_and_the_next_attempt_resumes(
    webui, server: LoopbackServer, tmp_path: Path
) -> None:
    state = webui.shared.state
    url = server.serve("/sam.pth", BODY)
    dest = tmp_path / "sam.pth"

    def user_presses_interrupt(label: str, done: int, total: int | None) -> None:
        if done > 0:
            state.interrupt()  # after the first chunk; the adapter notices on the next report

    with pytest.raises(DownloadInterrupted):
        download([url], dest, sha256=SHA, size=len(BODY), progress=WebUIProgress(console=user_presses_interrupt))
    assert not dest.exists()
    kept = part_path(dest).stat().st_size
    assert 0 < kept < len(BODY)

    state.begin(job="txt2img")  # a new job clears the flag
    console = io.StringIO()
    with WebUIProgress(console=TqdmProgress(file=console)) as progress:
        download([url], dest, sha256=SHA, size=len(BODY), progress=progress)
    assert dest.read_bytes() == BODY
    assert server.hits("/sam.pth")[-1].range == f"bytes={kept}-"
    assert "sam.pth" in console.getvalue()  # the console bar ran beside the WebUI's
    assert state.textinfo is None  # put back once the file was complete


def test_the_factory_gives_a_console_bar_over_a_megabyte_only(webui) -> None:
    progress = webui_progress()
    assert isinstance(progress.console, TqdmProgress)
    assert progress.console.min_bytes == 1 << 20
    assert webui_progress(console=False).console is None
