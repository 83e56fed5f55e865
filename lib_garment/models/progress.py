"""Progress reporting for downloads and hashing, as a plain callable so every host can adapt it.

A progress callback is called as ``callback(label, done, total)``: ``label`` names the work ("download
sam_vit_b_01ec64.pth", "verify sam_vit_b_01ec64.pth"), ``done`` is the absolute number of bytes handled so far
(a resumed download starts above zero) and ``total`` the expected bytes, or None when unknown. Within one attempt
``done`` never decreases; if a download has to start over (the server ignored the resume request, or a mirror is
tried from zero), the next call reports the lower value and the callback should treat it as a restart.

A callback may raise to cancel (the WebUI's Interrupt button): the exception propagates unchanged and the partial
download is kept, so the next attempt resumes it.

The CLI uses :class:`TqdmProgress`; the WebUI host wraps its own progress/state object in a callable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, Any

ProgressCallback = Callable[[str, int, "int | None"], None]


def no_progress(label: str, done: int, total: int | None) -> None:
    """The default: report nothing."""


class TqdmProgress:
    """One tqdm bar per label, closed when its work completes (tqdm is imported on first use)."""

    def __init__(self, file: IO[str] | None = None, min_bytes: int = 0) -> None:
        self.file = file if file is not None else sys.stderr
        self.min_bytes = min_bytes  # no bar for work smaller than this (config files)
        self._bars: dict[str, Any] = {}

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if total is not None and total < self.min_bytes:
            return
        bar = self._bars.get(label)
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(
                total=total,
                initial=done,
                desc=label,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=self.file,
                leave=True,
                dynamic_ncols=True,
            )
            self._bars[label] = bar
        else:
            if total != bar.total:
                bar.total = total
            if done < bar.n:  # a restart from a lower offset
                bar.reset(total=total)
            bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()
            del self._bars[label]

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
