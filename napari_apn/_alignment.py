"""Leg alignment from a landmarks Points layer, in mm (no Qt: the widget and tests use it).

Points data are (row, col) pixels and the layer's ``scale`` and ``units`` give the spacing
(a layer in napari's default pixel units has none: no mm measurements); measurements are
those of :mod:`apn_core.measurements` (HKA positive = varus).
"""

from __future__ import annotations

import numpy as np

ROWS = ("hka_deg", "mad_mm", "length_mm", "femur_mm", "tibia_mm")


def layer_xy(layer) -> tuple[np.ndarray, tuple[float, float] | None]:
    """``(K, 2)`` image (x, y) px in default-landmark order (NaN where no point) and the
    spacing in mm (``None`` when the layer's scale is not a length)."""
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from napari_apn._layers import layer_spacing_mm

    xy = np.full((len(DEFAULT_LANDMARKS), 2), np.nan)
    labels = list(layer.features["label"]) if "label" in layer.features else []
    for (row, col), name in zip(np.asarray(layer.data, float), labels, strict=False):
        if name in DEFAULT_LANDMARKS:
            xy[DEFAULT_LANDMARKS.index(name)] = (col, row)
    return xy, layer_spacing_mm(layer)


def layer_alignment(layer) -> dict:
    """Both legs and the discrepancy, in mm; ``ValueError`` when the layer has no spacing."""
    from apn_core.measurements import alignment

    xy, spacing = layer_xy(layer)
    if spacing is None:
        raise ValueError(
            f"layer {layer.name!r} has no pixel spacing in mm (its units are "
            f"{tuple(str(u) for u in layer.units)}): open the radiograph with napari-apn's reader, "
            "or set the layer's scale to the spacing and its units to mm"
        )
    return alignment(xy, spacing)


def table_data(result: dict) -> dict:
    """``{"right": [...], "left": [...]}`` rows for a table, rounded for display."""
    out = {}
    for side in ("right", "left"):
        m = result[side]
        out[side] = [None if not np.isfinite(m[k]) else round(float(m[k]), 1) for k in ROWS]
    return out


def axes_shapes(layer) -> list[np.ndarray]:
    """Mechanical axes as (row, col) pixel lines: hip → ankle per leg, and hip → knee → ankle."""
    from apn_core.landmarks import DEFAULT_LANDMARKS

    xy, _ = layer_xy(layer)
    lines = []
    for side in ("right", "left"):
        pts = [xy[DEFAULT_LANDMARKS.index(f"{part}_{side}")] for part in ("femur", "knee", "ankle")]
        if all(np.isfinite(p).all() for p in pts):
            lines.append(np.array([pts[0][::-1], pts[2][::-1]]))
            lines.append(np.array([p[::-1] for p in pts]))
    return lines


def save_to_labelled_folder(layer, folder, image: str | None = None) -> str:
    """Append or update this image's rows in ``folder/landmarks.csv`` (other rows kept), so
    corrected points become training data. Landmarks without a point are left as they were."""
    from pathlib import Path

    from apn_core.annotations import ImageLabels, read_landmarks_csv, write_landmarks_csv
    from apn_core.landmarks import DEFAULT_LANDMARKS

    folder = Path(folder)
    csv_path = folder / "landmarks.csv"
    existing = read_landmarks_csv(csv_path, DEFAULT_LANDMARKS) if csv_path.exists() else {}
    image = image or layer.metadata.get("apn_image") or layer.name.removesuffix(" landmarks")
    xy, spacing = layer_xy(layer)
    labels = existing.get(image) or ImageLabels.empty(image, len(DEFAULT_LANDMARKS))
    placed = np.isfinite(xy).all(axis=1)
    labels.xy[placed] = xy[placed]
    labels.annotated[placed] = True
    if labels.spacing is None and spacing is not None:
        labels.spacing = spacing
    existing[image] = labels
    write_landmarks_csv(csv_path, list(existing.values()), DEFAULT_LANDMARKS)
    return str(csv_path)
