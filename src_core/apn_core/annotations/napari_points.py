"""napari Points layer CSV (what napari's built-in writer saves).

Columns ``index, axis-0, axis-1`` (row, col of the image, in the layer's *data*
coordinates, i.e. pixels when the layer has no scale) and properties such as ``label``.
A Points layer cannot hold a point "nowhere", so landmarks absent from the file are
*not annotated*; to record *not in the image*, use ``landmarks.csv`` or a ``.mrk.json``.
Rows with empty coordinates (which we never write) are read as absent.

A layer with more dimensions (``axis-0, axis-1, axis-2``: points placed on a stack or
with a leading plane axis) is read only when every point lies on one plane: the last two
axes are then row and column. Points on several planes are an error — reading the plane
axis as the row would put every landmark in the wrong place.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from apn_core.annotations.files import csv_rows
from apn_core.annotations.labels import ImageLabels
from apn_core.errors import AnnotationError
from apn_core.io.text import safe_text
from apn_core.landmarks import LandmarkSet
from apn_core.spacing import parse_decimal
from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.csv_cells import csv_text, restore

_AXIS = re.compile(r"axis-([0-9]+)")


def read_napari_points(path: str | Path, landmarks: LandmarkSet, image: str = "") -> ImageLabels:
    """Read a napari Points CSV with a ``label`` column into :class:`ImageLabels`.

    Raises :class:`AnnotationError` naming the file (and the line) for anything malformed:
    unknown or repeated labels, coordinates that are not plain numbers, points on several
    planes of an n-D layer.
    """
    path = Path(path)
    reader = csv_rows(path)
    rows: list[tuple[int, dict]] = []
    try:
        fields = list(reader.fieldnames or [])
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise AnnotationError(
            path, f"line {reader.line_num + 1}: cannot parse CSV ({exc})"
        ) from None
    labels = ImageLabels.empty(image or path.stem, len(landmarks))
    if not rows:
        return labels
    axes = sorted(int(m.group(1)) for f in fields if (m := _AXIS.fullmatch(f)))
    if len(axes) < 2 or axes != list(range(len(axes))) or "label" not in fields:
        raise AnnotationError(
            path, "not a napari Points CSV with a 'label' column (need axis-0, axis-1, label)"
        )
    planes: dict[tuple[float, ...], int] = {}
    for line, row in rows:
        label = restore(row.get("label") or "").strip()
        if label not in landmarks:
            raise AnnotationError(
                path,
                f"line {line}: label {safe_text(label, 60)!r} is not one of "
                f"{', '.join(landmarks.names)}",
            )
        i = landmarks.index(label)
        if labels.annotated[i]:
            raise AnnotationError(path, f"line {line}: landmark {label!r} appears twice")
        labels.annotated[i] = True
        cells = [(row.get(f"axis-{a}") or "").strip() for a in axes]
        if not any(cells):
            continue
        try:
            coords = [parse_decimal(c) for c in cells]
        except ValueError:
            shown = ", ".join(
                f"axis-{a}={safe_text(c, 30)!r}" for a, c in zip(axes, cells, strict=True)
            )
            raise AnnotationError(
                path, f"line {line}: {shown} are not plain finite numbers"
            ) from None
        planes.setdefault(tuple(coords[:-2]), line)
        labels.xy[i] = (coords[-1], coords[-2])  # (x = col = last axis, y = row)
    if len(planes) > 1:
        first = sorted(planes.items(), key=lambda kv: kv[1])[:4]
        listed = "; ".join(
            ", ".join(f"axis-{a}={v:g}" for a, v in zip(axes, plane, strict=False))
            + f" on line {n}"
            for plane, n in first
        )
        raise AnnotationError(
            path,
            f"the points lie on {len(planes)} different planes ({listed}); a 2-D "
            "radiograph's landmarks must share one plane (the last two axes are row, col)",
        )
    return labels


def write_napari_points(path: str | Path, labels: ImageLabels, landmarks: LandmarkSet) -> Path:
    """Write present landmarks as a napari Points CSV (atomically)."""
    rows: list[list] = [["index", "axis-0", "axis-1", "label"]]
    for i, name in enumerate(landmarks.names):
        if labels.present[i]:
            x, y = labels.xy[i]
            rows.append([len(rows) - 1, f"{y:.3f}", f"{x:.3f}", name])
    write_text_atomic(path, csv_text(rows))
    return Path(path)
