"""Editing ``landmarks.csv`` in place: one image's rows replaced, every other byte kept.

The napari Annotate widget saves one image at a time into a folder's ``landmarks.csv``
that people also edit by hand or with spreadsheets; rewriting the whole table would
re-quote, reorder and re-format rows nobody touched.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from apn_core.annotations.csv_records import split_records
from apn_core.annotations.files import read_annotation_text
from apn_core.annotations.labels import ImageLabels
from apn_core.annotations.landmarks_csv import REQUIRED_COLUMNS, label_rows, optional_columns
from apn_core.annotations.paths import normalise_image_path
from apn_core.errors import AnnotationError
from apn_core.landmarks import LandmarkSet
from apn_core.utils.atomic import write_bytes_atomic


def replace_image_rows(
    csv_path: str | Path,
    image: str,
    labels: ImageLabels,
    landmarks: LandmarkSet,
    precision: int = 3,
) -> Path:
    """Replace the rows of one image in ``landmarks.csv`` (atomically), touching nothing else.

    ``image`` is the path relative to DATA (normalised as when reading, so ``./a.dcm``
    replaces the rows of ``a.dcm``). Every other row stays byte-for-byte as it was —
    quoting, column order, line endings, a UTF-8 BOM. The new rows take the place of the
    image's first old row (or go at the end), in the file's column order; a column they
    need (``spacing_mm``, ``occluded``) is appended to the header if absent, and older
    rows are left short by that one cell, which reads as empty. Absent landmarks get
    empty ``x,y``; not-annotated ones get no row. A file that does not exist is created.
    """
    csv_path = Path(csv_path)
    try:
        key = normalise_image_path(image)
    except ValueError as exc:
        raise AnnotationError(csv_path, str(exc)) from None
    needed = optional_columns([labels])
    if csv_path.exists():
        text = read_annotation_text(csv_path)
        bom = csv_path.read_bytes()[:3] == b"\xef\xbb\xbf"
        records = split_records(text)
    else:
        text, bom, records = "", False, []
    if not records or not records[0].strip():
        header = list(REQUIRED_COLUMNS) + needed
        records = [",".join(header) + "\n", *records[1:]]
    header = _parse_record(records[0])
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(csv_path, f"missing column(s) {', '.join(missing)}")
    newline = _terminator(records[0]) or "\n"
    added = [c for c in needed if c not in header]
    if added:
        body = records[0][: len(records[0]) - len(_terminator(records[0]))]
        records[0] = body + "".join("," + c for c in added) + newline
        header += added

    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(
        label_rows(_with_image(labels, key), landmarks, header, precision)
    )
    kept, insert_at = [records[0]], None
    for raw in records[1:]:
        if _row_image(raw, header) == key:
            insert_at = len(kept) if insert_at is None else insert_at
        else:
            kept.append(raw)
    if insert_at is None:
        if not _terminator(kept[-1]):
            kept[-1] += newline
        insert_at = len(kept)
    kept.insert(insert_at, buf.getvalue())
    write_bytes_atomic(csv_path, (b"\xef\xbb\xbf" if bom else b"") + "".join(kept).encode())
    return csv_path


def _with_image(labels: ImageLabels, image: str) -> ImageLabels:
    return ImageLabels(image, labels.xy, labels.annotated, labels.occluded, labels.spacing)


def _parse_record(raw: str) -> list[str]:
    return next(csv.reader(io.StringIO(raw, newline="")), [])


def _terminator(raw: str) -> str:
    for end in ("\r\n", "\n", "\r"):
        if raw.endswith(end):
            return end
    return ""


def _row_image(raw: str, header: list[str]) -> str | None:
    """The normalised image path of a raw record, or None (blank, short or bad row)."""
    try:
        cells = _parse_record(raw)
        return normalise_image_path(cells[header.index("image")])
    except (csv.Error, IndexError, ValueError):
        return None
