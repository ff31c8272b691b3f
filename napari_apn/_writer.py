"""npe2 writer: a landmarks Points layer → ``landmarks.csv`` rows or a Slicer ``.mrk.json``.

Points data are (row, col) pixels of the image and the layer's ``scale`` is the spacing in
mm (as this plugin's layers are made), so positions in mm are ``data · scale``. Each point
needs a ``label`` feature naming its landmark; landmarks without a point are written as not
annotated (CSV) or left out (markups).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _labels(data, meta: dict):
    from apn_core.annotations import ImageLabels
    from apn_core.errors import FileProblem
    from apn_core.landmarks import DEFAULT_LANDMARKS

    features = meta.get("features")
    names = list(features["label"]) if features is not None and "label" in features else []
    if len(names) != len(data):
        raise FileProblem(
            meta.get("name", "layer"), "every point needs a 'label' feature naming its landmark"
        )
    image = (meta.get("metadata") or {}).get("apn_image") or str(
        meta.get("name", "image")
    ).removesuffix(" landmarks")
    labels = ImageLabels.empty(image, len(DEFAULT_LANDMARKS))
    for (row, col), name in zip(np.asarray(data, float), names, strict=True):
        i = DEFAULT_LANDMARKS.index(str(name))
        labels.xy[i] = (col, row)
        labels.annotated[i] = True
    scale = tuple(
        float(s) for s in (meta.get("scale") if meta.get("scale") is not None else (1.0, 1.0))
    )[-2:]
    return labels, DEFAULT_LANDMARKS, scale


def write_points(path: str, data, meta: dict) -> list[str]:
    """Write ``.mrk.json`` (mm, LPS) or, for any other name, a ``landmarks.csv`` table."""
    from apn_core.annotations import write_landmarks_csv, write_markups

    labels, landmarks, spacing = _labels(data, meta)
    out = Path(path)
    if out.name.lower().endswith(".mrk.json"):
        write_markups(out, labels, landmarks, spacing, name=labels.image)
    else:
        if out.suffix.lower() != ".csv":
            out = out.with_suffix(".csv")
        labels.spacing = spacing if spacing != (1.0, 1.0) else None
        write_landmarks_csv(out, [labels], landmarks)
    return [str(out)]
