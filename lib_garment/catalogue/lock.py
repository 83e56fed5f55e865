"""One run per output folder: a second run on the same folder would make the same jobs twice. The lock is an
advisory lock on ``DIR/.batch.lock`` held by the process, so a killed run leaves none behind; the command line
and the WebUI take the same one and so exclude each other."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from lib_garment.errors import BadInput

LOCK_NAME = ".batch.lock"


class FolderLock:
    """The folder's lock, held from :meth:`acquire` until :meth:`release` (or the process ends)."""

    def __init__(self, folder: Path, handle: IO[str] | None) -> None:
        self.folder = folder
        self._handle = handle

    @classmethod
    def acquire(cls, folder: Path) -> FolderLock:
        """The lock, or BadInput when another run holds it (a batch command, or the WebUI)."""
        folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; one run per folder is the user's to keep
            return cls(folder, None)
        handle = (folder / LOCK_NAME).open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise BadInput(f"another batch is running on {folder}: wait for it, or stop it first") from None
        return cls(folder, handle)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the lock
            self._handle = None
