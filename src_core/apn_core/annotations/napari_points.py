"""napari Points layer CSV (what napari's built-in writer saves).

Columns ``index, axis-0, axis-1`` (row, col of the image, in the layer's *data*
coordinates, i.e. pixels when the layer has no scale) and properties such as ``label``.
A Points layer cannot hold a point "nowhere", so landmarks absent from the file are
*not annotated*; to record *not in the image*, use ``landmarks.csv`` or a ``.mrk.json``.
Rows with empty coordinates (which we never write) are read as absent.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from apn_core.annotations.labels import ImageLabels
from apn_core.errors import AnnotationError
from apn_core.landmarks import LandmarkSet
from apn_core.utils.atomic import write_text_atomic


def read_napari_points(path: str | Path, landmarks: LandmarkSet, image: str = "") -> ImageLabels:
    """Read a napari Points CSV with a ``label`` column into :class:`ImageLabels`."""
    path = Path(path)
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AnnotationError(path, f"cannot read ({exc})") from None
    fields = set(rows[0]) if rows else set()
    if rows and not {"axis-0", "axis-1", "label"} <= fields:
        raise AnnotationError(
            path, "not a napari Points CSV with a 'label' column (need axis-0, axis-1, label)"
        )
    labels = ImageLabels.empty(image or path.stem, len(landmarks))
    for line, row in enumerate(rows, start=2):
        label = (row.get("label") or "").strip()
        if label not in landmarks:
            raise AnnotationError(
                path, f"line {line}: label {label!r} is not one of {', '.join(landmarks.names)}"
            )
        i = landmarks.index(label)
        if labels.annotated[i]:
            raise AnnotationError(path, f"line {line}: landmark {label!r} appears twice")
        r, c = (row.get("axis-0") or "").strip(), (row.get("axis-1") or "").strip()
        labels.annotated[i] = True
        if not r and not c:
            continue
        try:
            y, x = float(r), float(c)
        except ValueError:
            raise AnnotationError(
                path, f"line {line}: axis-0={r!r}, axis-1={c!r} are not numbers"
            ) from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise AnnotationError(path, f"line {line}: non-finite coordinates")
        labels.xy[i] = (x, y)
    return labels


def write_napari_points(path: str | Path, labels: ImageLabels, landmarks: LandmarkSet) -> Path:
    """Write present landmarks as a napari Points CSV (atomically)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["index", "axis-0", "axis-1", "label"])
    n = 0
    for i, name in enumerate(landmarks.names):
        if labels.present[i]:
            x, y = labels.xy[i]
            writer.writerow([n, f"{y:.3f}", f"{x:.3f}", name])
            n += 1
    write_text_atomic(path, buf.getvalue())
    return Path(path)
