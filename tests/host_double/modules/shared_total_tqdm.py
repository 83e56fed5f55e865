"""``modules.shared_total_tqdm.TotalTQDM`` without a terminal bar (counts only)."""

from __future__ import annotations


class TotalTQDM:
    def __init__(self) -> None:
        self.total = 0
        self.count = 0
        self.cleared = 0

    def reset(self) -> None:
        self.count = 0

    def update(self) -> None:
        self.count += 1

    def updateTotal(self, new_total: int) -> None:
        self.total = new_total

    def clear(self) -> None:
        self.cleared += 1
        self.count = 0
