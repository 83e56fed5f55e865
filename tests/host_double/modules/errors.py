"""``modules.errors``: report/display like the WebUI, and keep every report for tests to inspect.

The WebUI prints ``*** message`` plus the traceback to stderr and carries on; hooks and callbacks rely on
that (host-contract §3.3). Tests read :data:`reported` instead of scraping stderr.
"""

from __future__ import annotations

import dataclasses
import sys
import textwrap
import traceback

exception_records: list[dict] = []


@dataclasses.dataclass
class Reported:
    """One call of :func:`report` / :func:`display` (double only)."""

    message: str
    exception: BaseException | None
    traceback: str


reported: list[Reported] = []


def _current_exception() -> BaseException | None:
    return sys.exc_info()[1]


def record_exception() -> None:
    exc = _current_exception()
    if exc is None:
        return
    record = {"exception": str(exc), "traceback": traceback.format_tb(exc.__traceback__)}
    if exception_records and exception_records[-1] == record:
        return
    exception_records.append(record)
    # The real list is capped at five entries; keep that so code reading it sees the same shape.
    del exception_records[:-5]


def get_exceptions() -> list[dict]:
    return list(reversed(exception_records))


def report(message: str, *, exc_info: bool = False) -> None:
    record_exception()
    exc = _current_exception() if exc_info else None
    tb = traceback.format_exc() if exc_info and exc is not None else ""
    reported.append(Reported(message, exc, tb))
    for line in message.splitlines():
        print("***", line, file=sys.stderr)
    if tb:
        print(textwrap.indent(tb, "    "), file=sys.stderr)
        print("---", file=sys.stderr)


def print_error_explanation(message: str) -> None:
    record_exception()
    print(message.strip(), file=sys.stderr)


def display(e: Exception, task: str | None, *, full_traceback: bool = False) -> None:
    record_exception()
    tb = "".join(traceback.TracebackException.from_exception(e).format())
    reported.append(Reported(f"{task or 'error'}: {type(e).__name__}", e, tb))
    print(f"{task or 'error'}: {type(e).__name__}", file=sys.stderr)
    print(tb, file=sys.stderr)


already_displayed: dict[str, int] = {}


def display_once(e: Exception, task: str) -> None:
    record_exception()
    if task in already_displayed:
        return
    display(e, task)
    already_displayed[task] = 1


def run(code, task: str) -> None:
    try:
        code()
    except Exception as e:  # noqa: BLE001  (report and carry on, like the WebUI)
        display(e, task)


def check_versions() -> None:
    """The real one warns about torch/gradio versions; the double has nothing to check."""


def clear_reported() -> None:
    """Forget earlier reports (double only)."""
    reported.clear()
