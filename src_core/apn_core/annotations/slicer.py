"""3D Slicer markups (``<stem>.mrk.json``, schema v1.0.3): point lists in millimetres.

Mapping between a pixel (x=col, y=row) of a 2-D image with spacing (row_mm, col_mm) and a
Slicer position, as Slicer places a 2-D image with identity direction and its origin at
the centre of the top-left pixel::

    LPS = (x * col_mm, y * row_mm, 0)        RAS = (-x * col_mm, -y * row_mm, 0)

We write LPS (Slicer's file default). Reading accepts LPS or RAS and mm or µm. A control
point whose ``positionStatus`` is ``undefined`` (placed nowhere) is read and written as
*annotated as not in the image*; a landmark without a control point is *not annotated*.
Reading is strict: a ``defined`` point needs three finite numbers as its position (a
``NaN`` there is a malformed file, not "not in the image").
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from apn_core.annotations.files import read_annotation_text
from apn_core.annotations.labels import ImageLabels
from apn_core.errors import AnnotationError
from apn_core.io.text import safe_text
from apn_core.landmarks import LandmarkSet
from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.files import parse_json

SCHEMA_URL = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
    "Resources/Schema/markups-schema-v1.0.3.json#"
)
UNIT_TO_MM = {"mm": 1.0, "um": 1e-3}
ABSENT_NOTE = "not in image"
_MISSING = object()


def write_markups(
    path: str | Path,
    labels: ImageLabels,
    landmarks: LandmarkSet,
    spacing: tuple[float, float],
    confidence: np.ndarray | None = None,
    name: str = "landmarks",
    notes: list[str] | None = None,
    spacing_source: str = "",
) -> Path:
    """Write one Fiducial markup with a control point per annotated landmark (atomically).

    ``spacing_source`` (e.g. ``ruler``, ``DICOM PixelSpacing``): written with the spacing
    as the markup's ``pixel spacing`` measurement, so the file says what its mm rest on."""
    row_mm, col_mm = spacing
    points = []
    for i, label in enumerate(landmarks.names):
        if not labels.annotated[i]:
            continue
        present = bool(labels.present[i])
        x, y = labels.xy[i] if present else (0.0, 0.0)
        description = "" if present else ABSENT_NOTE
        if confidence is not None and present:
            description = f"confidence={float(confidence[i]):.3f}"
        if notes is not None and notes[i]:
            description = "; ".join(d for d in (description, notes[i]) if d)
        points.append(
            {
                "id": str(i + 1),
                "label": label,
                "description": description,
                "associatedNodeID": "",
                "position": [float(x) * col_mm, float(y) * row_mm, 0.0],
                "orientation": [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0],
                "selected": True,
                "locked": False,
                "visibility": present,
                "positionStatus": "defined" if present else "undefined",
            }
        )
    doc = {
        "@schema": SCHEMA_URL,
        "markups": [
            {
                "type": "Fiducial",
                "name": name,
                "coordinateSystem": "LPS",
                "coordinateUnits": "mm",
                "locked": False,
                "fixedNumberOfControlPoints": False,
                "labelFormat": "%N-%d",
                "lastUsedControlPointNumber": len(points),
                "controlPoints": points,
                "measurements": _spacing_measurement(spacing, spacing_source),
            }
        ],
    }
    write_text_atomic(path, json.dumps(doc, indent=2))
    return Path(path)


def _spacing_measurement(spacing: tuple[float, float], source: str) -> list[dict]:
    if not source:
        return []
    row_mm, col_mm = spacing
    value = f"{row_mm:g}" if row_mm == col_mm else f"{row_mm:g} {col_mm:g}"
    return [
        {
            "name": "pixel spacing",
            "enabled": False,
            "value": float(row_mm),
            "units": "mm/px",
            "description": safe_text(f"{value} mm/px from {source}", limit=200),
            "printFormat": "%-#4.4g%s",
        }
    ]


def read_markups(
    path: str | Path, landmarks: LandmarkSet, spacing: tuple[float, float], image: str = ""
) -> ImageLabels:
    """Read the control points of all Fiducial markups whose label is a landmark name.

    ``spacing`` (row_mm, col_mm) of the image converts mm back to pixels. Raises
    :class:`AnnotationError` naming the file and the JSON location for anything
    malformed: invalid JSON (including ``NaN``/``Infinity``, which JSON does not have, and
    nesting too deep to parse), a value of the wrong type at any level, a position that
    is not three finite numbers, unknown or repeated labels.
    """
    path = Path(path)
    doc = _load_json(path)
    markups = _get(path, doc, "markups", list, "the document")
    row_mm, col_mm = spacing
    labels = ImageLabels.empty(image or path.name.removesuffix(".mrk.json"), len(landmarks))
    for m, markup in enumerate(markups):
        where = f"markups[{m}]"
        _expect(path, markup, dict, where)
        if _get(path, markup, "type", str, where, default="") != "Fiducial":
            continue
        system = _get(path, markup, "coordinateSystem", str, where, default="LPS")
        units = _get(path, markup, "coordinateUnits", (str, list), where, default="mm")
        units = units[0] if isinstance(units, list) and units else units
        if system not in ("LPS", "RAS") or units not in UNIT_TO_MM:
            raise AnnotationError(
                path, f"{where}: unsupported coordinates {safe_text(system, 20)} in {units!r}"
            )
        sign = -1.0 if system == "RAS" else 1.0
        points = _get(path, markup, "controlPoints", list, where, default=[])
        for c, cp in enumerate(points):
            at = f"{where}.controlPoints[{c}]"
            _expect(path, cp, dict, at)
            label = _get(path, cp, "label", str, at, default="")
            if label not in landmarks:
                raise AnnotationError(
                    path,
                    f"{at}: control point label {safe_text(label, 60)!r} is not one of "
                    f"{', '.join(landmarks.names)}",
                )
            i = landmarks.index(label)
            if labels.annotated[i]:
                raise AnnotationError(path, f"{at}: landmark {label!r} appears twice")
            labels.annotated[i] = True
            status = _get(path, cp, "positionStatus", str, at, default="defined")
            if status not in POSITION_STATUSES:
                raise AnnotationError(
                    path,
                    f"{at}: positionStatus {safe_text(status, 30)!r} is not one of "
                    f"{', '.join(POSITION_STATUSES)}",
                )
            if status != "defined":  # "undefined" (placed nowhere) or "preview": not in image
                continue
            px, py, _ = (v * UNIT_TO_MM[units] * sign for v in _position(path, cp, at))
            labels.xy[i] = (px / col_mm, py / row_mm)
    return labels


POSITION_STATUSES = ("defined", "undefined", "preview")


def _load_json(path: Path) -> object:
    return parse_json(read_annotation_text(path), path, "Slicer markups file", AnnotationError)


def _expect(path: Path, value: object, kind, where: str) -> None:
    if not isinstance(value, kind):
        raise AnnotationError(path, f"{where} is {_kind(value)}, expected {_kind_name(kind)}")


def _get(path: Path, obj: dict, key: str, kind, where: str, default=_MISSING):
    if not isinstance(obj, dict):
        raise AnnotationError(path, f"{where} is {_kind(obj)}, expected an object")
    if key not in obj:
        if default is _MISSING:
            raise AnnotationError(path, f"{where} has no {key!r}")
        return default
    _expect(path, obj[key], kind, f"{where}.{key}")
    return obj[key]


def _position(path: Path, cp: dict, at: str) -> tuple[float, float, float]:
    value = _get(path, cp, "position", list, at)
    if len(value) != 3 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        raise AnnotationError(
            path, f"{at}.position {safe_text(value, 80)} is not three finite numbers"
        )
    return float(value[0]), float(value[1]), float(value[2])


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {dict: "an object", list: "a list", str: "a string"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
