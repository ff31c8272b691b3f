"""Image paths inside a labelled folder: the one normalisation rule.

An image path in ``landmarks.csv`` (and a sidecar's image key) is **relative to DATA**,
written with ``/`` (a ``\\`` is read as ``/``), and POSIX-normalised: ``./x.dcm``,
``sub//x.dcm`` and ``sub/../x.dcm`` name the same image as ``x.dcm`` / ``sub/x.dcm``, so
two rows naming one normalised image and landmark are duplicates. A path is refused
(problem kind ``bad-path``; the file is never opened) when it

- is absolute (``/dev/zero``, ``C:\\x.dcm``, ``//server/share``),
- leaves DATA lexically (``../elsewhere/x.dcm`` after normalisation),
- is empty, names DATA itself, or contains control characters;

and, checked on disk by :func:`check_image_file`, when it is not a regular file (a
folder, device, FIFO or socket, or a broken or looping symbolic link). Symbolic links
inside DATA are followed, wherever they point: linking images into a labelled folder is
the folder owner's choice, and ``..`` in a CSV row is not.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import unicodedata
from pathlib import Path

_DRIVE = re.compile(r"^[A-Za-z]:")


def normalise_image_path(text: str) -> str:
    """``text`` as a normalised POSIX path relative to DATA; :class:`ValueError` if refused."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty image path")
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise ValueError("the image path contains control characters")
    path = raw.replace("\\", "/")
    if path.startswith("/") or _DRIVE.match(path):
        raise ValueError(
            f"absolute image path {raw!r}; paths in landmarks.csv are relative to the folder"
        )
    norm = posixpath.normpath(path)
    if norm == ".." or norm.startswith("../"):
        raise ValueError(f"image path {raw!r} leaves the labelled folder (..)")
    if norm == ".":
        raise ValueError(f"image path {raw!r} names the folder itself, not an image")
    return norm


def checked_image_name(text: str, table: str | Path) -> str:
    """``text`` as a row's image path for the table at ``table``, or :class:`FileProblem`:
    a writer must not write a row its reader would refuse (``../../etc/passwd``)."""
    from apn_core.errors import FileProblem

    try:
        return normalise_image_path(text)
    except ValueError as exc:
        raise FileProblem(table, f"cannot write a row for this image: {exc}") from None


def check_image_file(root: Path, rel: str) -> str | None:
    """Why ``root/rel`` cannot be read as an image file on disk, or ``None`` if it can.

    Returns ``"missing"`` when nothing is there (the caller reports a missing file), else
    a sentence for a ``bad-path`` problem. Never opens the file.
    """
    path = root / rel
    try:
        st = os.stat(path)  # follows symbolic links
    except FileNotFoundError:
        if os.path.lexists(path):
            return "a symbolic link whose target does not exist"
        return "missing"
    except OSError as exc:  # ELOOP, ENAMETOOLONG, EACCES...
        return f"cannot be inspected ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return "a folder, not an image file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a device, FIFO or socket); it is never read"
    return None
