"""Errors users can act on. Each names the file and the problem in one line.

The CLI and the napari widgets catch :class:`ApnError` and show its message; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class ApnError(Exception):
    """Base class for problems with the user's input (files, folders, options)."""


class FileProblem(ApnError):
    """A specific file cannot be used; the message starts with the file's path."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ImageReadError(FileProblem):
    """An image file is missing, unreadable, corrupt, or not a usable radiograph."""


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
