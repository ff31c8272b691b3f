"""``landmarks.csv``: the labelled folder's main annotation table.

Columns ``image,landmark,x,y`` and optionally ``spacing_mm`` and ``occluded``; any other
column is kept and ignored. ``x`` = column, ``y`` = row, pixels of the image as displayed
(as stored, unless a TIFF/EXIF Orientation turns it: :mod:`apn_core.io.orientation`),
``(0, 0)`` = centre of the top-left pixel. Empty ``x`` and ``y`` = annotated as not in the
image; no row = not annotated.

Cell syntax, checked strictly (a data file is not Python):

- ``image``: a path relative to DATA, see :mod:`apn_core.annotations.paths` (absolute
  paths and ``..`` are refused; ``./x.dcm`` is ``x.dcm``);
- ``x``, ``y``: plain decimal numbers (:func:`apn_core.spacing.parse_decimal`: no
  ``1_000``, ``nan``, ``inf``) within ±:data:`MAX_COORDINATE` px;
- ``spacing_mm``: :func:`apn_core.spacing.parse_spacing` (one number, or ``row col``);
  every row of one image that gives it must give the same value;
- ``occluded``: ``0/1``, ``true/false``, ``yes/no`` (any case); empty = 0.

Cells are read as :func:`apn_core.utils.csv_cells.restore` gives them: a file name apn
wrote as ``'=x.png`` (neutralised against spreadsheet formulas) is ``=x.png``.

:func:`apn_core.annotations.csv_edit.update_landmarks_csv` saves into an existing table
(every path that saves labels calls it); :func:`write_landmarks_csv` writes a new table
for a folder apn creates (synthetic data, a training folder).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from apn_core.annotations.files import csv_rows
from apn_core.annotations.labels import ImageLabels
from apn_core.annotations.paths import normalise_image_path
from apn_core.errors import AnnotationError
from apn_core.io.text import safe_text
from apn_core.landmarks import LandmarkSet
from apn_core.problems import Report
from apn_core.spacing import format_spacing, parse_decimal, parse_spacing
from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.csv_cells import csv_text, restore

REQUIRED_COLUMNS = ("image", "landmark", "x", "y")
MAX_COORDINATE = 1e6  # px; images are at most 30 000 px a side (apn_core.io.limits)
OPTIONAL_COLUMNS = ("spacing_mm", "occluded")
BOOLEAN_WORDS = {"": False, "0": False, "1": True, "false": False, "true": True}
BOOLEAN_WORDS |= {"no": False, "yes": True}


def read_landmarks_csv(
    path: str | Path, landmarks: LandmarkSet, report: Report | None = None
) -> dict[str, ImageLabels]:
    """Parse ``landmarks.csv`` into ``{normalised image path: ImageLabels}``.

    With a ``report``, bad rows are recorded there (every one, with its line number) and
    skipped; without one, the first bad row raises :class:`AnnotationError`. An unreadable
    file or header always raises.
    """
    path = Path(path)
    strict = report is None
    report = report if report is not None else Report()
    reader = csv_rows(path)
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(
            path, f"missing column(s) {', '.join(missing)}; need {','.join(REQUIRED_COLUMNS)}"
        )
    parser = _RowParser(path.name, landmarks, report)
    rows = iter(reader)
    while True:
        line = reader.line_num + 1
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            report.add("malformed-row", f"{path.name}:{line}", f"cannot parse CSV ({exc})")
        else:
            parser.add({k: restore(v) if isinstance(v, str) else v for k, v in row.items()}, line)
        if strict and report.errors:
            raise AnnotationError(path, str(report.errors[0]))
    return parser.out


class _RowParser:
    """Turns rows into :class:`ImageLabels`, recording every bad row in the report."""

    def __init__(self, name: str, landmarks: LandmarkSet, report: Report) -> None:
        self.name, self.landmarks, self.report = name, landmarks, report
        self.out: dict[str, ImageLabels] = {}
        self.seen: dict[tuple[str, str], int] = {}
        self.spacing_line: dict[str, int] = {}

    def add(self, row: dict, line: int) -> None:
        where = f"{self.name}:{line}"
        problem = self._check_shape(row)
        if problem:
            self.report.add("malformed-row", where, problem)
            return
        image_text, name = row["image"].strip(), row["landmark"].strip()
        if not image_text or not name:
            self.report.add("malformed-row", where, "empty 'image' or 'landmark'")
            return
        try:
            image = normalise_image_path(image_text)
        except ValueError as exc:
            self.report.add("bad-path", where, str(exc))
            return
        # Listed, even if this row turns out bad: the image is not "without rows".
        labels = self.out.setdefault(image, ImageLabels.empty(image, len(self.landmarks)))
        if name not in self.landmarks:
            self.report.add(
                "unknown-landmark",
                where,
                f"{_shown(name)} is not one of {', '.join(self.landmarks.names)}",
            )
            return
        if (image, name) in self.seen:
            self.report.add(
                "duplicate-row",
                where,
                f"{image} / {name} already given on line {self.seen[(image, name)]}",
            )
            return
        values = self._values(row, where)
        if values is None:
            return
        xy, spacing, occluded = values
        if spacing is not None:
            if labels.spacing is not None and spacing != labels.spacing:
                self.report.add(
                    "spacing-conflict",
                    where,
                    f"spacing_mm {format_spacing(spacing)} for {image} differs from "
                    f"{format_spacing(labels.spacing)} on line {self.spacing_line[image]}; "
                    "an image has one spacing",
                )
                return
            if labels.spacing is None:
                labels.spacing, self.spacing_line[image] = spacing, line
        self.seen[(image, name)] = line
        i = self.landmarks.index(name)
        labels.xy[i] = xy
        labels.annotated[i] = True
        labels.occluded[i] = occluded

    @staticmethod
    def _check_shape(row: dict) -> str | None:
        extra = [v for v in row.get(None) or [] if v.strip()]  # cells beyond the header
        if extra:
            return f"{len(row) - 1 + len(row[None])} cells but the header has {len(row) - 1}"
        if any(row.get(c) is None for c in REQUIRED_COLUMNS):
            return "fewer cells than the header's image,landmark,x,y"
        cells = [row.get(c) or "" for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
        if any("\n" in v or "\r" in v for v in cells):
            return "a cell spans several lines (an unclosed quote?)"
        return None

    def _values(self, row: dict, where: str):
        """(xy, spacing, occluded) of a row, or None after recording a problem."""
        xs, ys = row["x"].strip(), row["y"].strip()
        if bool(xs) != bool(ys):
            self.report.add(
                "bad-coordinate", where, "give both x and y, or leave both empty (= absent)"
            )
            return None
        try:
            xy = (parse_decimal(xs), parse_decimal(ys)) if xs else (math.nan, math.nan)
        except ValueError:
            self.report.add(
                "bad-coordinate",
                where,
                f"x={_shown(xs)}, y={_shown(ys)} are not plain finite numbers",
            )
            return None
        if max(abs(xy[0]), abs(xy[1])) > MAX_COORDINATE:  # NaN (absent) compares False
            self.report.add(
                "bad-coordinate",
                where,
                f"x={_shown(xs)}, y={_shown(ys)} lie beyond ±{MAX_COORDINATE:,.0f} px, far "
                "outside any image (an error computed from them would overflow)",
            )
            return None
        try:
            spacing = parse_spacing(row.get("spacing_mm") or "")
        except ValueError as exc:
            self.report.add("bad-value", where, f"spacing_mm: {exc}")
            return None
        occluded_text = (row.get("occluded") or "").strip().lower()
        if occluded_text not in BOOLEAN_WORDS:
            self.report.add(
                "bad-value",
                where,
                f"occluded={_shown(occluded_text)}; use 0/1, true/false or yes/no (empty = 0)",
            )
            return None
        return xy, spacing, BOOLEAN_WORDS[occluded_text]


def _shown(text: str) -> str:
    """A cell quoted for a message: printable and short."""
    return repr(safe_text(text, 60))


def write_landmarks_csv(
    path: str | Path, labels: list[ImageLabels], landmarks: LandmarkSet, precision: int = 3
) -> Path:
    """Write a new ``landmarks.csv`` atomically (replacing any file at ``path``): one row
    per annotated landmark. For a folder apn creates; saving into a labelled folder's
    table is :func:`apn_core.annotations.csv_edit.update_landmarks_csv`.

    Absent landmarks get empty ``x,y``; non-annotated ones get no row. ``spacing_mm`` is
    written when any image carries one, ``occluded`` when any landmark is flagged.
    """
    columns = list(REQUIRED_COLUMNS) + optional_columns(labels)
    rows = [row for lab in labels for row in label_rows(lab, landmarks, columns, precision)]
    write_text_atomic(path, csv_text([columns, *rows]))
    return Path(path)


def optional_columns(labels: list[ImageLabels]) -> list[str]:
    """The optional columns ``labels`` need: ``spacing_mm`` and/or ``occluded``."""
    columns = []
    if any(lab.spacing is not None for lab in labels):
        columns.append("spacing_mm")
    if any(bool(np.any(lab.occluded & lab.annotated)) for lab in labels):
        columns.append("occluded")
    return columns


def label_rows(lab: ImageLabels, landmarks: LandmarkSet, columns: list[str], precision: int):
    """The cells of ``lab``'s rows, in ``columns`` order (unknown columns left empty)."""
    for i, name in enumerate(landmarks.names):
        if not lab.annotated[i]:
            continue
        x, y = lab.xy[i]
        present = bool(lab.present[i])
        cells = {
            "image": lab.image,
            "landmark": name,
            "x": f"{x:.{precision}f}" if present else "",
            "y": f"{y:.{precision}f}" if present else "",
            "spacing_mm": format_spacing(lab.spacing) if lab.spacing is not None else "",
            "occluded": str(int(lab.occluded[i])),
        }
        yield [cells.get(c, "") for c in columns]
