"""3D Slicer markups (``<stem>.mrk.json``, schema v1.0.3): point lists in millimetres.

Mapping between a pixel (x=col, y=row) of a 2-D image with spacing (row_mm, col_mm) and a
Slicer position, as Slicer places a 2-D image with identity direction and its origin at
the centre of the top-left pixel::

    LPS = (x * col_mm, y * row_mm, 0)        RAS = (-x * col_mm, -y * row_mm, 0)

We write LPS (Slicer's file default). Reading accepts LPS or RAS and mm or µm. A control
point whose ``positionStatus`` is ``undefined`` (placed nowhere) is read and written as
*annotated as not in the image*; a landmark without a control point is *not annotated*.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from apn_core.annotations.labels import ImageLabels
from apn_core.errors import AnnotationError
from apn_core.landmarks import LandmarkSet
from apn_core.utils.atomic import write_text_atomic

SCHEMA_URL = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
    "Resources/Schema/markups-schema-v1.0.3.json#"
)
UNIT_TO_MM = {"mm": 1.0, "um": 1e-3}
ABSENT_NOTE = "not in image"


def write_markups(
    path: str | Path,
    labels: ImageLabels,
    landmarks: LandmarkSet,
    spacing: tuple[float, float],
    confidence: np.ndarray | None = None,
    name: str = "landmarks",
) -> Path:
    """Write one Fiducial markup with a control point per annotated landmark (atomically)."""
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
                "measurements": [],
            }
        ],
    }
    write_text_atomic(path, json.dumps(doc, indent=2))
    return Path(path)


def read_markups(
    path: str | Path, landmarks: LandmarkSet, spacing: tuple[float, float], image: str = ""
) -> ImageLabels:
    """Read the control points of all Fiducial markups whose label is a landmark name.

    ``spacing`` (row_mm, col_mm) of the image converts mm back to pixels. Raises
    :class:`AnnotationError` for malformed files or unknown/duplicate labels.
    """
    path = Path(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        markups = doc["markups"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AnnotationError(path, f"not a Slicer markups file ({exc})") from None
    row_mm, col_mm = spacing
    labels = ImageLabels.empty(image or path.name.removesuffix(".mrk.json"), len(landmarks))
    for markup in markups:
        if markup.get("type") != "Fiducial":
            continue
        system = markup.get("coordinateSystem", "LPS")
        units = markup.get("coordinateUnits", "mm")
        units = units[0] if isinstance(units, list) else units
        if system not in ("LPS", "RAS") or units not in UNIT_TO_MM:
            raise AnnotationError(path, f"unsupported coordinates {system} in {units!r}")
        sign = -1.0 if system == "RAS" else 1.0
        for cp in markup.get("controlPoints", []):
            label = str(cp.get("label", ""))
            if label not in landmarks:
                raise AnnotationError(
                    path,
                    f"control point label {label!r} is not one of {', '.join(landmarks.names)}",
                )
            i = landmarks.index(label)
            if labels.annotated[i]:
                raise AnnotationError(path, f"landmark {label!r} appears twice")
            labels.annotated[i] = True
            if cp.get("positionStatus", "defined") != "defined":
                continue
            try:
                px, py, _ = (float(v) * UNIT_TO_MM[units] * sign for v in cp["position"])
            except (KeyError, ValueError, TypeError):
                raise AnnotationError(
                    path, f"bad position for {label!r}: {cp.get('position')!r}"
                ) from None
            labels.xy[i] = (px / col_mm, py / row_mm)
    return labels
