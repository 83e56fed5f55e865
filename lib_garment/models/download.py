"""Fetch one file over HTTP(S): mirrors in order, resume into ``<name>.part``, verify, then rename atomically.

Guarantees:
- nothing appears under the final name until its size and SHA-256 (when known) match; the rename is atomic
  (``os.replace`` within one folder), so a crash leaves either no file or the whole verified file;
- an interrupted transfer leaves ``<name>.part``; the next attempt asks for the rest (HTTP Range) and hashes the
  bytes already there, so nothing is downloaded twice; a server that ignores Range is followed from zero;
- a file whose hash mismatches is deleted (the ``.part`` too) and the next mirror is tried from zero;
- every socket operation has a timeout, so a stalled server produces a message, not a hang.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lib_garment import __version__
from lib_garment.errors import ModelUnavailable
from lib_garment.models.progress import ProgressCallback, no_progress
from lib_garment.models.verify import CHUNK, ChecksumMismatch

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds per socket operation (connect, each read), not for the whole file
USER_AGENT = f"garment-studio/{__version__} (+model downloader)"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_CONTENT_RANGE_TOTAL = re.compile(r"/(\d+)\s*$")

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


class DownloadFailed(ModelUnavailable):
    """No URL delivered the file; the message lists what each one answered."""


class _Attempt(Exception):
    """One URL failed in a way the next mirror may not (message is for the user)."""


class _BadBytes(_Attempt):
    """The bytes are not the expected file (wrong size or hash): the partial file must not be reused."""

    def __init__(self, message: str, *, resumed: bool) -> None:
        super().__init__(message)
        self.resumed = resumed  # part of the bytes came from an earlier attempt


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    size: int
    url: str


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _lock_for(dest: Path) -> threading.Lock:
    # Two jobs in one WebUI asking for the same model must not write one .part at the same time.
    with _locks_guard:
        return _locks.setdefault(dest.resolve(), threading.Lock())


@dataclass(frozen=True)
class _Failure:
    url: str
    message: str
    wrong_bytes: bool = False  # the server answered, but with a different file


def download(
    urls: Sequence[str],
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    label: str | None = None,
) -> Fetched:
    """Download to ``dest`` from the first URL that delivers the expected bytes; raise :class:`DownloadFailed`
    (or :class:`ChecksumMismatch` when every mirror served a different file)."""
    report = progress or no_progress
    label = label or f"download {dest.name}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[_Failure] = []
    with _lock_for(dest):
        if sha256 is None:
            # Without a hash a leftover partial file (perhaps from another mirror) cannot be checked: start clean.
            part_path(dest).unlink(missing_ok=True)
        for url in urls:
            outcome = _try_url(url, dest, sha256=sha256, size=size, report=report, timeout=timeout, label=label)
            if isinstance(outcome, Fetched):
                return outcome
            failures.append(outcome)
    part = part_path(dest)
    lines = "\n".join(f"  - {f.url}: {f.message}" for f in failures)
    if failures and all(f.wrong_bytes for f in failures):
        raise ChecksumMismatch(
            f"every source served a different file than expected for {dest.name}; nothing was kept:\n{lines}"
        )
    kept = part.is_file() and part.stat().st_size > 0
    hint = f"\nThe partial download {part} is kept; the next attempt resumes it." if kept else ""
    raise DownloadFailed(f"could not download {dest.name}:\n{lines}{hint}")


def _try_url(
    url: str,
    dest: Path,
    *,
    sha256: str | None,
    size: int | None,
    report: ProgressCallback,
    timeout: float,
    label: str,
) -> Fetched | _Failure:
    """One mirror; a damaged partial file from an earlier attempt gets one fresh retry from zero."""
    part = part_path(dest)
    for _ in range(2):
        try:
            return _from_url(url, dest, sha256=sha256, size=size, report=report, timeout=timeout, label=label)
        except _BadBytes as err:  # noqa: PERF203 - two network attempts at most
            part.unlink(missing_ok=True)
            if not err.resumed:
                return _Failure(url, str(err), wrong_bytes=True)
            log.warning("%s: %s; downloading it again from the start", dest.name, err)
        except _Attempt as err:
            if sha256 is None:
                # Without a hash, bytes from two servers (or two sessions) cannot be checked: never splice them.
                part.unlink(missing_ok=True)
            return _Failure(url, str(err))
        except OSError as err:  # our own disk (full, read-only, permissions): no mirror can help
            raise DownloadFailed(f"cannot write {part}: {err.strerror or err}") from err
    return _Failure(url, "the fresh download did not match either", wrong_bytes=True)


def _request(url: str, start: int) -> urllib.request.Request:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start > 0:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.Request(url, headers=headers)


def _hash_prefix(part: Path) -> tuple[Any, int]:
    digest = hashlib.sha256()
    done = 0
    with part.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
    return digest, done


def _open(url: str, start: int, timeout: float) -> Any:
    """The HTTP response, or ``None`` when the server says our partial file already reaches the end (416)."""
    try:
        return urllib.request.urlopen(_request(url, start), timeout=timeout)
    except urllib.error.HTTPError as err:
        content_range = err.headers.get("Content-Range", "") if err.headers else ""
        with contextlib.suppress(Exception):
            err.close()
        if err.code == 416 and start:
            match = _CONTENT_RANGE_TOTAL.search(content_range)
            if match and int(match.group(1)) == start:
                return None
            raise _BadBytes("the partial download is longer than the file on the server", resumed=True) from None
        raise _Attempt(f"HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise _Attempt(_reason(err.reason, url, timeout)) from None
    except (OSError, HTTPException) as err:  # timeouts, resets, malformed answers
        raise _Attempt(_reason(err, url, timeout)) from None


def _from_url(
    url: str,
    dest: Path,
    *,
    sha256: str | None,
    size: int | None,
    report: ProgressCallback,
    timeout: float,
    label: str,
) -> Fetched:
    scheme = urlsplit(url).scheme
    if scheme not in {"http", "https"}:
        raise _Attempt(f"unsupported URL scheme {scheme!r}")
    part = part_path(dest)
    start = part.stat().st_size if part.is_file() else 0
    if size is not None and start > size:
        part.unlink()  # longer than the real file: it cannot be a prefix of it
        start = 0
    digest, start = _hash_prefix(part) if start else (hashlib.sha256(), 0)
    if size is not None and start == size:  # an earlier attempt got every byte but stopped before the rename
        return _finish(part, dest, digest, start, url, sha256=sha256, size=size, resumed=True)
    response = _open(url, start, timeout)
    if response is None:
        return _finish(part, dest, digest, start, url, sha256=sha256, size=size, resumed=True)
    with response:
        length = response.headers.get("Content-Length", "")
        remaining = int(length) if length.isdigit() else None
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != start:
                raise _Attempt("the server answered the resume request with a different byte range")
        elif response.status == 200:
            if start:
                log.info("%s ignores resume requests; downloading %s again from the start", url, dest.name)
            digest, start = hashlib.sha256(), 0
        else:
            raise _Attempt(f"unexpected HTTP status {response.status}")
        total = start + remaining if remaining is not None else size
        if size is not None and total != size:
            raise _Attempt(f"the server offers {total:,} bytes, expected {size:,} (a different file?)")
        done = _stream(response, part, start, digest, report=report, label=label, total=total, url=url, timeout=timeout)
    if total is not None and done < total:
        raise _Attempt(f"the connection closed after {done:,} of {total:,} bytes")
    return _finish(part, dest, digest, done, url, sha256=sha256, size=size, resumed=start > 0)


def _stream(
    response: Any,
    part: Path,
    start: int,
    digest: Any,
    *,
    report: ProgressCallback,
    label: str,
    total: int | None,
    url: str,
    timeout: float,
) -> int:
    """Append the response body to ``part`` from ``start``; returns the bytes now in ``part``. Errors while
    reading become :class:`_Attempt` (the next mirror or run resumes); errors while writing propagate."""
    done = start
    report(label, done, total)
    with part.open("r+b" if start else "wb") as out:
        out.seek(start)
        out.truncate()
        while True:
            try:
                chunk = response.read(CHUNK)
            except (OSError, HTTPException) as err:
                out.flush()
                broke = f"the connection broke ({err})"
                reason = _reason(err, url, timeout) if isinstance(err, TimeoutError) else broke
                raise _Attempt(f"{reason} after {done:,} bytes") from None
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if total is not None and done > total:  # only possible without a Content-Length: stop filling the disk
                raise _BadBytes(f"the server sent more than the expected {total:,} bytes", resumed=False)
            report(label, done, total)
        out.flush()
        os.fsync(out.fileno())
    return done


def _finish(
    part: Path,
    dest: Path,
    digest: Any,
    done: int,
    url: str,
    *,
    sha256: str | None,
    size: int | None,
    resumed: bool,
) -> Fetched:
    actual = digest.hexdigest()
    if size is not None and done != size:
        raise _BadBytes(f"got {done:,} bytes, expected {size:,}", resumed=resumed)
    if sha256 is not None and actual != sha256:
        where = "the resumed partial download" if resumed else "the download"
        raise _BadBytes(f"{where} has SHA-256 {actual}, expected {sha256}; it was deleted", resumed=resumed)
    part.replace(dest)  # atomic within one folder
    with contextlib.suppress(OSError):  # make the rename itself durable where the platform allows
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return Fetched(dest, actual, done, url)


def _reason(err: object, url: str, timeout: float) -> str:
    host = urlsplit(url).hostname or url
    if isinstance(err, TimeoutError) or "timed out" in str(err):
        return f"no answer from {host} within {timeout:g} s (timed out)"
    if isinstance(err, socket.gaierror):
        return f"cannot resolve {host} (no network, or a proxy/DNS problem): {err}"
    if isinstance(err, ConnectionRefusedError):
        return f"{host} refused the connection"
    return f"cannot reach {host}: {err}"
