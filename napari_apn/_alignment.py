"""Leg alignment from a landmarks Points layer, in mm (no Qt: the widget and tests use it).

Points data are (row, col) pixels and the layer's ``scale`` and ``units`` give the spacing
(a layer in pixel units has none: no mm measurements); measurements are those of
:mod:`apn_core.measurements` (HKA positive = varus). A value that cannot be measured is
shown as "–" with its reason (the landmark that is absent), never "nan".
"""

from __future__ import annotations

import numpy as np

from apn_core.landmarks import DEFAULT_LANDMARKS

ROWS = ("hka_deg", "mad_mm", "length_mm", "femur_mm", "tibia_mm")
MISSING = "–"
NEEDS = {  # measurement → the landmarks (of one leg) it needs
    "hka_deg": ("femur", "knee", "ankle"),
    "mad_mm": ("femur", "knee", "ankle"),
    "length_mm": ("femur", "ankle"),
    "femur_mm": ("femur", "knee"),
    "tibia_mm": ("knee", "ankle"),
}


def layer_xy(layer) -> tuple[np.ndarray, tuple[float, float] | None]:
    """``(K, 2)`` image (x, y) px in default-landmark order (NaN where no point) and the
    spacing in mm (``None`` when the layer's scale is not a length)."""
    from napari_apn._layers import layer_spacing_mm

    xy = np.full((len(DEFAULT_LANDMARKS), 2), np.nan)
    labels = list(layer.features["label"]) if "label" in layer.features else []
    for (row, col), name in zip(np.asarray(layer.data, float), labels, strict=False):
        if name in DEFAULT_LANDMARKS:
            xy[DEFAULT_LANDMARKS.index(name)] = (col, row)
    return xy, layer_spacing_mm(layer)


def layer_alignment(layer) -> dict:
    """Both legs and the discrepancy, in mm; ``ValueError`` when the layer has no spacing
    or a landmark has several points."""
    from apn_core.measurements import alignment

    xy, spacing = layer_xy(layer)
    labels = [str(v) for v in layer.features["label"]] if "label" in layer.features else []
    twice = sorted({n for n in labels if labels.count(n) > 1})
    if twice:  # which point is the landmark? measuring either would be a guess
        raise ValueError(f"{', '.join(twice)}: more than one point; delete all but one")
    if spacing is None:
        raise ValueError(
            f"layer {layer.name!r} has no pixel spacing in mm (its units are "
            f"{tuple(str(u) for u in layer.units)}): open the radiograph with napari-apn's reader, "
            "or set the layer's scale to the spacing and its units to mm"
        )
    return alignment(xy, spacing)


def absent(xy: np.ndarray, side: str, parts) -> list[str]:
    """The landmarks of ``parts`` on ``side`` that have no point."""
    names = [f"{part}_{side}" for part in parts]
    return [n for n in names if not np.isfinite(xy[DEFAULT_LANDMARKS.index(n)]).all()]


def table_rows(result: dict | None, xy: np.ndarray) -> tuple[dict, list[str]]:
    """``{"right": [...], "left": [...]}`` display texts (one decimal, or "–") and the
    reasons for every "–" (e.g. "left: ankle_left absent")."""
    out, reasons = {}, []
    for side in ("right", "left"):
        out[side] = []
        for key in ROWS:
            value = None if result is None else result[side][key]
            if value is not None and np.isfinite(value):
                out[side].append(f"{value:.1f}")
            else:
                out[side].append(MISSING)
        missing = absent(xy, side, ("femur", "knee", "ankle"))
        if missing:
            reasons.append(f"{side}: {', '.join(missing)} absent")
    return out, reasons


def lld_text(result: dict | None, xy: np.ndarray) -> str:
    """The leg-length discrepancy line, with the reason when it cannot be measured."""
    if result is not None and np.isfinite(result["lld_mm"]):
        return f"leg-length discrepancy (R − L): {result['lld_mm']:.1f} mm"
    missing = absent(xy, "right", NEEDS["length_mm"]) + absent(xy, "left", NEEDS["length_mm"])
    why = f"{', '.join(missing)} absent" if missing else "no pixel spacing in mm"
    return f"leg-length discrepancy (R − L): {MISSING} ({why})"


def axes_shapes(layer) -> list[np.ndarray]:
    """Mechanical axes as (row, col) pixel lines: hip → ankle per leg, and hip → knee → ankle."""
    xy, _ = layer_xy(layer)
    lines = []
    for side in ("right", "left"):
        pts = [xy[DEFAULT_LANDMARKS.index(f"{part}_{side}")] for part in ("femur", "knee", "ankle")]
        if all(np.isfinite(p).all() for p in pts):
            lines.append(np.array([pts[0][::-1], pts[2][::-1]]))
            lines.append(np.array([p[::-1] for p in pts]))
    return lines


def save_to_labelled_folder(layer, folder) -> str:
    """Append or update this image's rows in ``folder/landmarks.csv`` (other rows kept), so
    corrected points become training data. The image is named by its path relative to
    ``folder`` (from the layer's metadata; refused when outside it). Landmarks without a
    point are left as they were; duplicate labels are refused."""
    from pathlib import Path

    from apn_core.annotations import ImageLabels, read_landmarks_csv, write_landmarks_csv
    from napari_apn._layers import ImageRef, layer_labels, layer_spacing_mm

    folder = Path(folder)
    csv_path = folder / "landmarks.csv"
    image = ImageRef.from_metadata(layer.metadata).name_in(folder)
    points = layer_labels(layer)
    existing = read_landmarks_csv(csv_path, DEFAULT_LANDMARKS) if csv_path.exists() else {}
    labels = existing.get(image) or ImageLabels.empty(image, len(DEFAULT_LANDMARKS))
    placed = points.present
    labels.xy[placed] = points.xy[placed]
    labels.annotated[placed] = True
    spacing = layer_spacing_mm(layer)
    if labels.spacing is None and spacing is not None:
        labels.spacing = spacing
    existing[image] = labels
    write_landmarks_csv(csv_path, list(existing.values()), DEFAULT_LANDMARKS)
    return str(csv_path)
