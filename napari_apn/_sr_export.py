"""npe2 writer: a landmarks Points layer → a DICOM SR (``*.sr.dcm``) and, beside it, a
presentation state (``*.pr.dcm``) referencing the DICOM radiograph the layer belongs to.

File > Save Selected Layers… with a name ending in ``.sr.dcm``. The points are taken as
they are now (moved, added or deleted by hand included): a landmark without a point is
written as absent, a point whose ``review_reason`` feature is set as "needs review", and
the measurements are computed from the points in the layer's mm (see
:mod:`apn_core.dicom_out.edited`). The layer must belong to a DICOM file
(``apn_image_path`` in its metadata, :mod:`napari_apn._layers`): an SR references its
source image's study and UIDs, so a TIFF or a PNG is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_sr(path: str, data, meta: dict) -> list[str]:
    """Write the SR (and the presentation state beside it) of a landmarks layer."""
    from apn_core.dicom_out.edited import result_from_landmarks, write_edited
    from apn_core.errors import FileProblem
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from napari_apn._layers import ImageRef, labels_from_points, spacing_mm

    out = Path(path)
    layer = meta.get("name", "layer")
    ref = ImageRef.from_metadata(meta.get("metadata"))
    if ref.path is None:
        raise FileProblem(
            out,
            f"layer {layer!r} does not say which DICOM file it belongs to; open the "
            "radiograph with napari-apn and run Detect landmarks on it",
        )
    names = _column(meta, "label")
    labels = labels_from_points(data, names, ref.name or out.name, layer)
    confidence = np.full(len(DEFAULT_LANDMARKS), np.nan)
    reasons = [""] * len(DEFAULT_LANDMARKS)
    for name, value, reason in zip(
        names,
        _column(meta, "confidence") or [np.nan] * len(names),
        _column(meta, "review_reason") or [""] * len(names),
        strict=True,
    ):
        i = DEFAULT_LANDMARKS.index(name)
        confidence[i] = float(value)
        reasons[i] = str(reason or "")
    spacing = spacing_mm(meta.get("scale"), meta.get("units"))
    result = result_from_landmarks(labels.xy, spacing, confidence, reasons)
    return [str(p) for p in write_edited(out, ref.path, result)]


def _column(meta: dict, key: str) -> list:
    """A feature of the layer as a list (empty when the layer has no such feature)."""
    features = meta.get("features")
    return list(features[key]) if features is not None and key in features else []
