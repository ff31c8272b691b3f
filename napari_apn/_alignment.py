"""Leg alignment from a landmarks Points layer, in mm (no Qt: the widget and tests use it).

Points data are (row, col) pixels and the layer's ``scale`` and ``units`` give the spacing
(a layer in pixel units has none: no mm measurements); measurements are those of
:mod:`apn_core.measurements` (HKA positive = varus). As in ``apn predict``'s
``measurements.csv``, a measurement that uses an absent landmark, or one flagged for
review (a Detect point drawn hollow, its ``review_reason`` feature not empty), is not
shown: "–" with the reason ("right: knee_right needs review"), never "nan" and never a
number from a point the model itself doubts. Moving a flagged point clears its flag
(:mod:`napari_apn._points`), and the measurement appears.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from apn_core.landmarks import DEFAULT_LANDMARKS

ROWS = ("hka_deg", "mad_mm", "length_mm", "femur_mm", "tibia_mm")
MISSING = "–"


@dataclass
class Measured:
    """What the table shows: ``result`` (:func:`apn_core.measurements.alignment` with the
    unreliable values ``None``; ``None`` when nothing can be measured), ``notes``
    (``{"right.hka_deg": "knee_right needs review", "lld_mm": …}``) and ``problem``
    (why nothing can be measured: no spacing, a landmark with two points)."""

    result: dict | None
    notes: dict[str, str] = field(default_factory=dict)
    problem: str = ""


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


def flagged(layer) -> list[str]:
    """Landmarks whose point is flagged for review (a non-empty ``review_reason``)."""
    if "label" not in layer.features or "review_reason" not in layer.features:
        return []
    pairs = zip(layer.features["label"], layer.features["review_reason"], strict=True)
    return [str(name) for name, reason in pairs if isinstance(reason, str) and reason]


def layer_alignment(layer) -> dict:
    """Both legs and the discrepancy, in mm, from every point as it is; ``ValueError``
    when the layer has no spacing or a landmark has several points."""
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


def measure(layer) -> Measured:
    """The table's values: :func:`layer_alignment` with every measurement that uses an
    absent or flagged landmark emptied, with its reason (the CLI's rule,
    :func:`apn_core.inference.review.blank_measurements`)."""
    from apn_core.inference.review import ImageReview, blank_measurements

    xy, _ = layer_xy(layer)
    k = len(DEFAULT_LANDMARKS)
    doubtful = set(flagged(layer))
    review = ImageReview(
        DEFAULT_LANDMARKS.names,
        np.isfinite(xy).all(axis=1),
        np.array([n in doubtful for n in DEFAULT_LANDMARKS.names]),
        ["needs review" if n in doubtful else "" for n in DEFAULT_LANDMARKS.names],
        np.full(k, np.nan),
        np.full(k, np.nan),
    )
    try:
        raw = layer_alignment(layer)
    except ValueError as exc:  # no spacing: say so instead of showing pixels as mm
        short = "more than one point" if "more than one" in str(exc) else "no pixel spacing in mm"
        return Measured(None, {"lld_mm": short}, str(exc))
    result, notes = blank_measurements(raw, review)
    return Measured(result, notes)


def _reasons(notes: dict[str, str], prefix: str) -> str:
    parts = [p for key, r in notes.items() if key.startswith(prefix) for p in r.split(", ")]
    return ", ".join(dict.fromkeys(parts))


def table_rows(measured: Measured) -> tuple[dict, list[str]]:
    """``{"right": [...], "left": [...]}`` display texts (one decimal, or "–") and the
    reasons for the "–" of each leg (e.g. "left: ankle_left absent")."""
    out, reasons = {}, []
    for side in ("right", "left"):
        values = (measured.result or {}).get(side) or {}
        out[side] = [
            f"{v:.1f}" if v is not None and np.isfinite(v) else MISSING
            for v in (values.get(key) for key in ROWS)
        ]
        why = "" if measured.result is None else _reasons(measured.notes, f"{side}.")
        if why:
            reasons.append(f"{side}: {why}")
    return out, reasons


def lld_text(measured: Measured) -> str:
    """The leg-length discrepancy line, with the reason when it cannot be measured."""
    lld = (measured.result or {}).get("lld_mm")
    if lld is not None and np.isfinite(lld):
        return f"leg-length discrepancy (R − L): {lld:.1f} mm"
    why = measured.notes.get("lld_mm") or "not computable"
    return f"leg-length discrepancy (R − L): {MISSING} ({why})"


def axes_shapes(layer) -> list[np.ndarray]:
    """Mechanical axes as (row, col) pixel lines: hip → ankle per leg, and hip → knee → ankle
    (drawn for flagged points too: the picture shows where they are)."""
    xy, _ = layer_xy(layer)
    lines = []
    for side in ("right", "left"):
        pts = [xy[DEFAULT_LANDMARKS.index(f"{part}_{side}")] for part in ("femur", "knee", "ankle")]
        if all(np.isfinite(p).all() for p in pts):
            lines.append(np.array([pts[0][::-1], pts[2][::-1]]))
            lines.append(np.array([p[::-1] for p in pts]))
    return lines


def save_to_labelled_folder(layer, folder) -> str:
    """Save this image's points into ``folder/landmarks.csv`` so corrected points become
    training data, through the plugin's one save path (:func:`napari_apn._save.save_image`:
    only this image's rows change; a deleted point becomes not annotated; the file's other
    rows, columns and line endings stay). The image is named by its path relative to
    ``folder`` (from the layer's metadata; refused when outside it); duplicate labels are
    refused."""
    from pathlib import Path

    from napari_apn._layers import ImageRef, layer_labels, layer_spacing_mm
    from napari_apn._save import save_image

    folder = Path(folder)
    labels = layer_labels(layer)
    labels.image = ImageRef.from_metadata(layer.metadata).name_in(folder)
    labels.spacing = layer_spacing_mm(layer)
    path, _ = save_image(folder / "landmarks.csv", labels)
    return str(path)
