"""The mutation score per module from mutmut's results (run by tools/mutation.sh after ``mutmut run``).

A mutant counts as killed when a test failed on it (mutmut's "killed", "timeout" or "segfault": the tests did
not pass). Survivors listed in tools/mutation-equivalent.md (a table row starting with the mutant's name in
backticks) are equivalent mutants: no test can tell them from the original, for the reason given there. The
target is 90 % killed of the mutants that are not equivalent; any survivor not in the list is printed, and the
exit status is 1 then, so that each one is either killed by a new test or explained.

Usage: python tools/mutation_score.py [MODULE ...]  (from the repository root, after mutmut run)
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

MODULES = (
    "lib_garment.segment.cleanup",
    "lib_garment.segment.trimap",
    "lib_garment.segment.boxes",
    "lib_garment.generate.composite",
    "lib_garment.maps.normal",
)
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
TARGET = 0.90
EQUIVALENT_FILE = Path(__file__).with_name("mutation-equivalent.md")


def results() -> dict[str, str]:
    """{mutant name: status} for every mutant of the last run."""
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run([str(mutmut), "results", "--all", "true"], capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name] = status
    return found


def equivalents() -> set[str]:
    return set(re.findall(r"^\|\s*`([^`]+__mutmut_\d+)`", EQUIVALENT_FILE.read_text("utf8"), flags=re.M))


def module_of(mutant: str) -> str:
    return next((m for m in MODULES if mutant.startswith(f"{m}.")), mutant.split(".x")[0])


def main(wanted: list[str]) -> int:
    statuses = results()
    explained = equivalents()
    by_module: dict[str, Counter] = defaultdict(Counter)
    unexplained: list[str] = []
    for name, status in sorted(statuses.items()):
        module = module_of(name)
        if wanted and module not in wanted:
            continue
        tally = by_module[module]
        tally["total"] += 1
        if status in KILLED:
            tally["killed"] += 1
        elif name in explained:
            tally["equivalent"] += 1
        else:
            tally["left"] += 1
            unexplained.append(f"{name}: {status}")
    print(f"{'module':<32} {'killed':>7} {'total':>6} {'score':>7} {'equivalent':>11} {'left':>5} {'score*':>7}")
    failing = False
    for module in (m for m in MODULES if m in by_module):
        t = by_module[module]
        score = t["killed"] / t["total"]
        relevant = t["total"] - t["equivalent"]
        adjusted = t["killed"] / relevant if relevant else 1.0
        failing |= adjusted < TARGET
        print(
            f"{module:<32} {t['killed']:>7} {t['total']:>6} {score:>7.1%} {t['equivalent']:>11} {t['left']:>5}"
            f" {adjusted:>7.1%}"
        )
    print("score = killed / total; score* = killed / (total - equivalent); target: score* >= 90 %")
    for line in unexplained:
        print("SURVIVOR", line)
    return 1 if unexplained or failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
