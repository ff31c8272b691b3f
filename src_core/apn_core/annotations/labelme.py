"""LabelMe annotation files (``*.json`` beside an image), read strictly.

LabelMe (https://github.com/wkentaro/labelme) stores shapes drawn on one image: polygons
(bone outlines), points, circles (centre + a point on the rim), lines and rectangles, each
with a free-text label. We read the shapes and the image's name and size, nothing else
(the embedded ``imageData`` is ignored: the image must be a file).

Coordinates: LabelMe draws on a canvas whose pixel (0, 0) covers [0, 1) × [0, 1), so the
centre of the top-left pixel is (0.5, 0.5); apn puts (0, 0) at that centre
(:mod:`apn_core.landmarks`). Shapes are returned in apn's convention (LabelMe − 0.5).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apn_core.annotations.files import read_annotation_text
from apn_core.errors import AnnotationError

LABELME_OFFSET = 0.5  # LabelMe pixel-corner coordinates → apn pixel-centre coordinates
SHAPE_TYPES = ("polygon", "point", "circle", "line", "linestrip", "rectangle", "points")


@dataclass(frozen=True)
class LabelMeShape:
    """One drawn shape: label as written, LabelMe's shape type, ``(N, 2)`` (x, y) px (apn)."""

    label: str
    shape_type: str
    points: np.ndarray


@dataclass(frozen=True)
class LabelMeFile:
    """A LabelMe file: the image it names (as written), its declared size, its shapes."""

    path: Path
    image_path: str
    height: int | None
    width: int | None
    shapes: tuple[LabelMeShape, ...]

    def image_file(self) -> Path:
        """The image named by ``imagePath``, relative to the JSON file's folder."""
        return (self.path.parent / self.image_path.replace("\\", "/")).resolve()


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError
    return float(value)


def read_labelme(path: str | Path) -> LabelMeFile:
    """Read a LabelMe JSON file; :class:`AnnotationError` naming the file and the problem.

    Refused: text that is not a JSON object with a ``shapes`` list; a shape without a
    string ``label`` or with non-finite or non-numeric points; an unknown ``shape_type``.
    """
    path = Path(path)
    text = read_annotation_text(path)
    try:
        data = json.loads(text)
    except RecursionError:
        raise AnnotationError(path, "JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise AnnotationError(path, f"not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise AnnotationError(path, "not a LabelMe file (no 'shapes' list)")
    image_path = data.get("imagePath")
    if not isinstance(image_path, str) or not image_path.strip():
        image_path = ""
    size = []
    for key in ("imageHeight", "imageWidth"):
        v = data.get(key)
        if v is None:
            size.append(None)
        elif isinstance(v, int) and not isinstance(v, bool) and v > 0:
            size.append(v)
        else:
            raise AnnotationError(path, f"{key} is {v!r}, not a positive whole number")
    shapes = []
    for i, s in enumerate(data["shapes"], start=1):
        where = f"shape {i}"
        if not isinstance(s, dict) or not isinstance(s.get("label"), str):
            raise AnnotationError(path, f"{where}: no text 'label'")
        kind = s.get("shape_type") or "polygon"
        if kind not in SHAPE_TYPES:
            raise AnnotationError(path, f"{where} ({s['label']!r}): unknown shape_type {kind!r}")
        pts = s.get("points")
        try:
            if not isinstance(pts, list) or not pts:
                raise ValueError
            xy = [
                (_number(p[0]), _number(p[1])) for p in pts if isinstance(p, list) and len(p) == 2
            ]
            if len(xy) != len(pts):
                raise ValueError
        except (ValueError, TypeError):
            raise AnnotationError(
                path, f"{where} ({s['label']!r}): points must be a list of [x, y] finite numbers"
            ) from None
        shapes.append(LabelMeShape(s["label"], kind, np.array(xy) - LABELME_OFFSET))
    return LabelMeFile(path, image_path, size[0], size[1], tuple(shapes))
