"""Reading an annotation file's text with the checks every format needs first."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from apn_core.errors import AnnotationError
from apn_core.io.text import safe_text
from apn_core.utils.files import MAX_TABLE_BYTES, read_text

MAX_ANNOTATION_BYTES = MAX_TABLE_BYTES  # a landmarks.csv of 100 000 images is ~5 MB


def read_annotation_text(path: Path) -> str:
    """The UTF-8 text of an annotation file (leading byte-order marks dropped).

    Refuses, with :class:`AnnotationError`, what is not a regular file (a FIFO would block
    forever), files over :data:`MAX_ANNOTATION_BYTES`, and text that is not UTF-8
    (:func:`apn_core.utils.files.read_text`).
    """
    return read_text(path, "annotation file", MAX_ANNOTATION_BYTES, AnnotationError)


def csv_rows(path: Path) -> csv.DictReader:
    """A ``DictReader`` over an annotation CSV whose header has been read and checked.

    A column named twice is refused, naming it: ``DictReader`` would silently keep the
    last cell of the two (``image,landmark,x,y,x`` read its fifth cell as x).
    """
    reader = csv.DictReader(io.StringIO(read_annotation_text(path), newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise AnnotationError(path, f"cannot parse the header ({exc})") from None
    seen: set[str] = set()
    for name in header:
        if name in seen and name.strip():
            raise AnnotationError(
                path,
                f"column {safe_text(name, 40)!r} appears twice in the header; which of the "
                "two holds the values is ambiguous — remove or rename one",
            )
        seen.add(name)
    return reader
