"""Reading an annotation file's text with the checks every format needs first."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from apn_core.errors import AnnotationError

MAX_ANNOTATION_BYTES = 64 * 1024 * 1024  # a landmarks.csv of 100 000 images is ~5 MB


def read_annotation_text(path: Path) -> str:
    """The UTF-8 text of an annotation file (a BOM is dropped).

    Refuses, with :class:`AnnotationError`, what is not a regular file (a FIFO would block
    forever), files over :data:`MAX_ANNOTATION_BYTES`, and text that is not UTF-8.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise AnnotationError(path, f"cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise AnnotationError(path, "not a regular file")
    if st.st_size > MAX_ANNOTATION_BYTES:
        raise AnnotationError(
            path,
            f"{st.st_size:,} bytes; an annotation file is at most {MAX_ANNOTATION_BYTES:,} bytes",
        )
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise AnnotationError(path, f"cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise AnnotationError(path, f"not UTF-8 text (byte {exc.start})") from None
