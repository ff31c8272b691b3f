"""Errors users can act on. Each names the file and the problem in one line.

The CLI and the napari widgets catch :class:`ApnError` and show its message; anything
else is a bug and keeps its traceback. Messages are made safe to print: control
characters that came from a file or a file name are escaped (:func:`escape_controls`;
:func:`apn_core.io.text.safe_text` also bounds the length of values shown by ``apn info``).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from apn_core.utils.fsnames import shown_name


def escape_controls(text: str) -> str:
    """``text`` with control and format characters escaped (``\\n``, ``\\x1b``, ``\\u202e``).

    A file name or a DICOM string can carry terminal escape sequences, newlines that fake
    extra output lines, or right-to-left overrides; printed raw they can rewrite what the
    user sees. Ordinary text, including non-ASCII letters, is unchanged. A byte of a file
    name that is not UTF-8 (a lone surrogate, PEP 383) is shown as ``\\xNN``, as in the
    tables (:mod:`apn_core.utils.fsnames`).
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif unicodedata.category(ch) in ("Zs",):
            out.append(" ")
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # surrogateescape's range: bytes 0x80-0xFF
            out.append(shown_name(ch))
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


class ApnError(Exception):
    """Base class for problems with the user's input (files, folders, options)."""


class FileProblem(ApnError):
    """A specific file cannot be used; the message starts with the file's path."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(escape_controls(f"{self.path}: {problem}"))


class ImageReadError(FileProblem):
    """An image file is missing, unreadable, corrupt, or not a usable radiograph."""


class ImageTooLargeError(ImageReadError):
    """The file declares more pixels than the configured limit; nothing was decoded."""


class NonFinitePixelsError(ImageReadError):
    """The image holds NaN or infinite pixel values (float TIFF/DICOM, or a bad rescale)."""


class SpacingMissingError(FileProblem):
    """A measurement in mm was asked for but the image carries no pixel spacing."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(
            path,
            "no pixel spacing in the file (PNG/JPEG carry none, and this DICOM/TIFF has no "
            "spacing tags); give it with --spacing MM or a 'spacing_mm' column in "
            "landmarks.csv — results are in millimetres, so it is never guessed",
        )


class AnnotationError(FileProblem):
    """An annotation file (landmarks.csv, .mrk.json, napari Points CSV) is malformed."""


class BlankImageError(ApnError):
    """The image has no contrast (constant, e.g. all zero): there is nothing to find.

    Raised by intensity normalisation before a blank image reaches the network, where the
    normalisation would amplify rounding noise into confident-looking garbage. The caller
    knows the file: ``BlankImageError(exc.problem, path)`` names it.
    """

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.problem = problem
        self.path = Path(path) if path is not None else None
        text = problem if self.path is None else f"{self.path}: {problem}"
        super().__init__(escape_controls(text))
