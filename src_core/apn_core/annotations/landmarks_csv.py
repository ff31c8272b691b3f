"""``landmarks.csv``: the labelled folder's main annotation table.

Columns ``image,landmark,x,y`` and optionally ``spacing_mm`` (one number, or ``row col``)
and ``occluded`` (0/1). ``x`` = column, ``y`` = row, pixels of the stored image,
``(0, 0)`` = centre of the top-left pixel. Empty ``x`` and ``y`` = annotated as not in the
image; no row = not annotated.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from apn_core.annotations.labels import ImageLabels
from apn_core.errors import AnnotationError
from apn_core.landmarks import LandmarkSet
from apn_core.problems import Report
from apn_core.utils.atomic import write_text_atomic

REQUIRED_COLUMNS = ("image", "landmark", "x", "y")
TRUE_WORDS = {"1", "true", "yes", "y"}


def parse_spacing(text: str) -> tuple[float, float] | None:
    """``"0.143"`` → (0.143, 0.143); ``"0.15 0.14"`` / ``"0.15x0.14"`` → (row, col); ``""`` → None."""
    parts = [p for p in text.replace("x", " ").replace(",", " ").replace(";", " ").split() if p]
    if not parts:
        return None
    values = [float(p) for p in parts]
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing_mm {text!r} is not one or two positive numbers")
    return values[0], values[1]


def read_landmarks_csv(
    path: str | Path, landmarks: LandmarkSet, report: Report | None = None
) -> dict[str, ImageLabels]:
    """Parse ``landmarks.csv`` into ``{image: ImageLabels}``.

    With a ``report``, bad rows are recorded there (every one, with its line number) and
    skipped; without one, the first bad row raises :class:`AnnotationError`.
    """
    path = Path(path)
    strict = report is None
    report = report if report is not None else Report()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(path, f"cannot read ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise AnnotationError(
            path, f"missing column(s) {', '.join(missing)}; need {','.join(REQUIRED_COLUMNS)}"
        )
    k = len(landmarks)
    out: dict[str, ImageLabels] = {}
    seen: dict[tuple[str, str], int] = {}
    for line, row in enumerate(reader, start=2):
        where = f"{path.name}:{line}"
        n_errors = len(report.errors)
        image = (row.get("image") or "").strip().replace("\\", "/")
        name = (row.get("landmark") or "").strip()
        xs, ys = (row.get("x") or "").strip(), (row.get("y") or "").strip()
        if not image or not name:
            report.add("malformed-row", where, "empty 'image' or 'landmark'")
        elif name not in landmarks:
            report.add(
                "unknown-landmark", where, f"{name!r} is not one of {', '.join(landmarks.names)}"
            )
        elif (image, name) in seen:
            report.add(
                "duplicate-row",
                where,
                f"{image} / {name} already given on line {seen[(image, name)]}",
            )
        if len(report.errors) == n_errors:
            seen[(image, name)] = line
            labels = out.setdefault(image, ImageLabels.empty(image, k))
            _fill(labels, landmarks.index(name), xs, ys, row, where, report)
        if strict and report.errors:
            raise AnnotationError(path, str(report.errors[0]))
    return out


def _fill(
    labels: ImageLabels, i: int, xs: str, ys: str, row: dict, where: str, report: Report
) -> None:
    """Write one row's values into ``labels``; record a problem instead if they are bad."""
    if bool(xs) != bool(ys):
        report.add("bad-coordinate", where, "give both x and y, or leave both empty (= absent)")
        return
    try:
        xy = (float(xs), float(ys)) if xs else (math.nan, math.nan)
    except ValueError:
        report.add("bad-coordinate", where, f"x={xs!r}, y={ys!r} are not numbers")
        return
    if xs and not all(math.isfinite(v) for v in xy):
        report.add("bad-coordinate", where, f"x={xs!r}, y={ys!r} are not finite")
        return
    spacing_text = (row.get("spacing_mm") or "").strip()
    if spacing_text:
        try:
            spacing = parse_spacing(spacing_text)
        except ValueError as exc:
            report.add("bad-coordinate", where, str(exc))
            return
        if labels.spacing is not None and spacing != labels.spacing:
            report.add(
                "spacing-mismatch", where, f"spacing_mm {spacing} differs from {labels.spacing}"
            )
        labels.spacing = spacing
    labels.xy[i] = xy
    labels.annotated[i] = True
    labels.occluded[i] = (row.get("occluded") or "").strip().lower() in TRUE_WORDS


def write_landmarks_csv(
    path: str | Path, labels: list[ImageLabels], landmarks: LandmarkSet, precision: int = 3
) -> Path:
    """Write ``landmarks.csv`` atomically: one row per annotated landmark.

    Absent landmarks get empty ``x,y``; non-annotated ones get no row. ``spacing_mm`` is
    written when any image carries one, ``occluded`` when any landmark is flagged.
    """
    with_spacing = any(lab.spacing is not None for lab in labels)
    with_occluded = any(bool(np.any(lab.occluded)) for lab in labels)
    columns = list(REQUIRED_COLUMNS)
    if with_spacing:
        columns.append("spacing_mm")
    if with_occluded:
        columns.append("occluded")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for lab in labels:
        for i, name in enumerate(landmarks.names):
            if not lab.annotated[i]:
                continue
            x, y = lab.xy[i]
            row = [lab.image, name]
            row += [f"{x:.{precision}f}", f"{y:.{precision}f}"] if lab.present[i] else ["", ""]
            if with_spacing:
                sp = lab.spacing
                row.append(
                    ""
                    if sp is None
                    else (f"{sp[0]:g}" if sp[0] == sp[1] else f"{sp[0]:g} {sp[1]:g}")
                )
            if with_occluded:
                row.append(int(lab.occluded[i]))
            writer.writerow(row)
    write_text_atomic(path, buf.getvalue())
    return Path(path)
