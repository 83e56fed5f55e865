"""Model downloads (and their hash checks) reported in the WebUI's progress bar, with a console bar beside it.

The engine reports through a plain callback, ``callback(label, done_bytes, total_or_None)``
(:mod:`lib_garment.models.progress`). :class:`WebUIProgress` is that callback for the WebUI: pass
``webui_progress()`` as ``progress=`` to ``ensure_model``/``registry_file``/``build_backends``.

What it shows and why:

- ``shared.state.textinfo`` = "Garment Studio: downloading sam_vit_b_01ec64.pth 12.3/375.0 MB" (decimal MB),
  the line the WebUI's progress bar prints;
- the bar itself: ``sampling_step``/``sampling_steps`` as bytes done/total. The WebUI computes a job's
  progress as ``(job_no + sampling_step / sampling_steps) / job_count``, so the download fills the current
  job's slice. ``job_count``/``job_no`` are left alone: they count the generation's images, and a download is
  not one. The sampler resets the step counters when sampling starts; the values from before the download
  are put back when it ends anyway, so a download between two images leaves no trace;
- the console: one tqdm bar per file (:class:`~lib_garment.models.progress.TqdmProgress`).

The WebUI's Interrupt button sets ``shared.state.interrupted``; the next callback raises
:class:`DownloadInterrupted`, which the downloader lets through unchanged and which keeps the partial
``.part`` file, so the next attempt resumes where this one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lib_garment.errors import GarmentError
from lib_garment.models.progress import ProgressCallback, TqdmProgress

PREFIX = "Garment Studio"
MB = 1_000_000
CONSOLE_MIN_BYTES = 1 << 20  # config and vocabulary files finish before a bar would be useful
_VERBS = {"download": "downloading", "verify": "verifying"}


class DownloadInterrupted(GarmentError):
    """The user pressed Interrupt while a model file was downloading or being checked."""


def describe(label: str, done: int, total: int | None) -> str:
    """The progress line: "Garment Studio: downloading <file> 12.3/375.0 MB"."""
    verb, _, rest = label.partition(" ")
    what = f"{_VERBS[verb]} {rest}" if verb in _VERBS and rest else label
    amount = f"{done / MB:.1f}/{total / MB:.1f} MB" if total else f"{done / MB:.1f} MB"
    return f"{PREFIX}: {what} {amount}"


@dataclass
class _Saved:
    textinfo: Any
    sampling_step: Any
    sampling_steps: Any


@dataclass
class WebUIProgress:
    """A progress callback writing to the WebUI's ``shared.state`` (``state``; default: the WebUI's own) and
    to ``console`` (default: a tqdm bar on stderr; None for none). Call :meth:`close` when the work is done
    (or use it as a context manager): it closes console bars and puts the state back."""

    state: Any = None
    console: ProgressCallback | None = field(default_factory=lambda: TqdmProgress(min_bytes=CONSOLE_MIN_BYTES))
    _active: set[str] = field(default_factory=set, init=False)
    _saved: _Saved | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.state is None:
            from modules import shared

            self.state = shared.state

    def __call__(self, label: str, done: int, total: int | None) -> None:
        state = self.state
        if getattr(state, "interrupted", False):
            name = label.partition(" ")[2] or label
            self.close()
            raise DownloadInterrupted(
                f"{PREFIX}: {name} was interrupted at {done / MB:.1f} MB; the partial file is kept and the next "
                "attempt resumes it"
            )
        if self.console is not None:
            self.console(label, done, total)
        if not self._active:
            self._saved = _Saved(state.textinfo, state.sampling_step, state.sampling_steps)
        self._active.add(label)
        state.textinfo = describe(label, done, total)
        if total:
            state.sampling_steps = total
            state.sampling_step = min(done, total)
        if total is not None and done >= total:
            self._finished(label)

    def _finished(self, label: str) -> None:
        self._active.discard(label)
        if not self._active:
            self._restore()

    def _restore(self) -> None:
        saved, self._saved = self._saved, None
        if saved is not None:
            self.state.textinfo = saved.textinfo
            self.state.sampling_step = saved.sampling_step
            self.state.sampling_steps = saved.sampling_steps

    def close(self) -> None:
        self._active.clear()
        self._restore()
        close = getattr(self.console, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> WebUIProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def webui_progress(console: bool = True) -> WebUIProgress:
    """The progress callback the generation code passes to ``ensure_model``/``build_backends``."""
    return WebUIProgress(console=TqdmProgress(min_bytes=CONSOLE_MIN_BYTES) if console else None)
