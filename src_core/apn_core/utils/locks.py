"""Advisory locks on folders that one apn process writes at a time (run and output folders).

Two ``apn train RUN --resume`` or two ``apn predict ... --out OUT`` on the same folder would
each believe they own it and silently replace each other's files. ``folder_lock`` takes an
exclusive, non-blocking ``fcntl.flock`` on ``FOLDER/.apn-lock``: a second writer is refused
at once with a message naming the folder and the process that holds it, never queued behind
it (a queued ``predict`` would redo work, a queued ``train --resume`` would restart an old
checkpoint). The kernel drops the lock when the holder exits, however it exits (kill -9
included), so a stale lock file never blocks anyone: the file is left in place on purpose
(removing it would race with a process that just opened it).

Where ``fcntl`` does not exist (Windows) the lock is a no-op; the rest of apn still writes
atomically there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from apn_core.errors import ApnError

try:  # POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".apn-lock"


class FolderBusyError(ApnError):
    """Another process holds the folder's lock; ``str()`` is the user-facing message (an
    :class:`~apn_core.errors.ApnError`: the CLI prints it and exits 2, napari shows it)."""

    def __init__(self, folder: Path, holder: str, what: str) -> None:
        self.folder = folder
        self.holder = holder
        who = f" (process {holder})" if holder else ""
        super().__init__(
            f"{folder}: another apn process{who} is writing this {what}; "
            "wait for it to finish or stop it, then run again"
        )


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "folder") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if missing) for the ``with`` block.

    ``what`` names the folder's role in the refusal ("run folder", "output folder").
    Raises ``FolderBusyError`` when another process holds it; ``OSError`` when the lock
    file cannot be created (read-only folder), which callers report like any write error.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    if fcntl is None:  # pragma: no cover - Windows
        yield path
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusyError(folder, _read_holder(fd), what) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    """The holder's process id as it wrote it (digits only), or '' when unreadable."""
    with contextlib.suppress(OSError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
    return ""
