"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash, a kill or a full disk mid-write leaves the old file (or none), never a truncated
one: the temporary file is flushed to disk (``fsync``) before it is renamed onto the
target, and the folder is synced after the rename where the platform allows it, so the
new name survives a power loss too.

Files get the usual permissions (``0o666`` less the process umask), like any file the
process creates. The umask is read once, at import: reading it means setting it, and
setting it while other threads create files would give their files the wrong mode.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from apn_core.utils.fsnames import bounded_name, encode_text


def _read_umask() -> int:
    """The process umask, from /proc where available (no side effect), else set-and-restore."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems
RANDOM_CHARS = 8  # what tempfile.mkstemp puts between prefix and suffix
MAX_SUFFIX_BYTES = 16  # ".safetensors", ".json", ".tif": longer tails are not formats
UMASK = _read_umask()
FILE_MODE = 0o666 & ~UMASK


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; publish it as ``path`` on success.

    The temporary name keeps the target's suffix so libraries that pick a format from the
    extension (tifffile, imageio) still work. Whatever writes to it may close the file:
    it is reopened to be synced. On any exception the temporary file is removed and the
    old ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=temp_prefix(path), suffix=f".tmp{_kept_suffix(path)}", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600, and some writers (safetensors) recreate the file 0600:
        # set the usual mode on what was written.
        os.chmod(tmp_path, FILE_MODE)
        _fsync_file(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def temp_prefix(path: Path) -> str:
    """``.<stem>.`` cut so that the whole temporary name (with mkstemp's 8 random
    characters and ``.tmp<suffix>``) fits the file system's limit on one name: a legal
    240-byte file name must not become an illegal 260-byte temporary one."""
    limit = _name_max(path.parent)
    room = limit - len(os.fsencode(f".tmp{_kept_suffix(path)}")) - RANDOM_CHARS
    return bounded_name(f".{path.stem}", ".", max(2, room))


def _kept_suffix(path: Path) -> str:
    """The suffix the temporary name keeps (a format's extension, not a long tail)."""
    return path.suffix if len(os.fsencode(path.suffix)) <= MAX_SUFFIX_BYTES else ""


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):
        return NAME_MAX


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; a file name's undecodable bytes
    in ``text`` are written as ``\\xNN`` (:mod:`apn_core.utils.fsnames`)."""
    write_bytes_atomic(path, encode_text(text))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, exactly as given (no newline translation)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _fsync_file(path: Path) -> None:
    flags = os.O_RDWR if os.name == "nt" else os.O_RDONLY  # Windows needs write access
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; not possible on Windows (folders cannot be opened)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not support syncing a folder
    finally:
        os.close(fd)
