"""Landmark accuracy in millimetres — the one scoring function of the project.

Training validation (``val_*`` in ``log.jsonl``) and ``apn evaluate`` both call
:func:`score`, so one name always means one number.

Definition. Each landmark of each image is *present* in the truth (annotated with a
position), *absent* (annotated as not in the image) or *not annotated* (ignored). The
model *reports* a landmark present with a position, or absent (NaN; at inference, when the
heatmap peak is below the presence threshold). The **radial error** is the Euclidean
distance between reported and true position in mm (pixel offsets × the image's row/column
spacing). **MRE** (mean), **SD**, **median** and **PCK@t** (share of errors ≤ t mm) are
taken over the landmarks present in the truth *and* reported present; ``n`` is how many
those are. Beside them, every group counts ``present`` (present in the truth),
``present_reported_absent`` (missed: not in the error statistics), ``absent`` (annotated
absent) and ``absent_reported_present`` (false alarms), and ``correct``: the share of
annotated landmarks handled correctly — present ones reported within ``tolerance_mm``,
absent ones reported absent. Groups: ``all``, each landmark, and ``occluded`` (present
landmarks flagged occluded in the truth, where there are any).
"""

from __future__ import annotations

import numpy as np

COUNTS = ("present", "present_reported_absent", "absent", "absent_reported_present")


def radial_errors_mm(pred_xy: np.ndarray, true_xy: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Euclidean distance in mm. ``pred_xy``/``true_xy``: ``(N, K, 2)`` px (x, y);
    ``spacing``: ``(N, 2)`` (row_mm, col_mm). NaN where either side is NaN."""
    d = np.asarray(pred_xy, float) - np.asarray(true_xy, float)
    s = np.asarray(spacing, float)[:, None, :]
    return np.sqrt((d[..., 0] * s[..., 1]) ** 2 + (d[..., 1] * s[..., 0]) ** 2)


def score(
    pred_xy: np.ndarray,
    true_xy: np.ndarray,
    present: np.ndarray,
    absent: np.ndarray,
    spacing: np.ndarray,
    names: tuple[str, ...],
    thresholds: tuple[float, ...] = (10.0, 20.0),
    occluded: np.ndarray | None = None,
    tolerance_mm: float = 10.0,
) -> dict:
    """Accuracy as defined in this module's docstring.

    pred_xy: ``(N, K, 2)`` reported (x, y) px, NaN = reported absent. true_xy: ``(N, K, 2)``
    px (NaN unless present). present / absent / occluded: ``(N, K)`` bool from the truth.
    spacing: ``(N, 2)`` (row_mm, col_mm) per pixel of that frame. Returns
    ``{"all": group, <landmark>: group, ..., "occluded": group}`` where a group is
    ``{"n", "mre", "sd", "median", "pck@t"..., "present", "present_reported_absent",
    "absent", "absent_reported_present", "correct"}`` (statistics left out when ``n`` is 0;
    PCK and correct are fractions 0–1).
    """
    pred = np.asarray(pred_xy, float)
    present = np.asarray(present, bool)
    absent = np.asarray(absent, bool) & ~present
    reported = np.isfinite(pred).all(axis=-1)
    scored = present & reported
    errors = np.where(scored, radial_errors_mm(pred, true_xy, spacing), np.nan)

    def group(mask: np.ndarray) -> dict:
        e = errors[mask & scored]
        out: dict = {"n": int(e.size)}
        if e.size:
            out.update(mre=float(e.mean()), sd=float(e.std()), median=float(np.median(e)))
            out.update({f"pck@{t:g}": float((e <= t).mean()) for t in thresholds})
        out["present"] = int((mask & present).sum())
        out["present_reported_absent"] = int((mask & present & ~reported).sum())
        out["absent"] = int((mask & absent).sum())
        out["absent_reported_present"] = int((mask & absent & reported).sum())
        annotated = out["present"] + out["absent"]
        if annotated:
            hits = int((e <= tolerance_mm).sum()) + out["absent"] - out["absent_reported_present"]
            out["correct"] = hits / annotated
        return out

    everything = np.ones(present.shape, bool)
    result = {"all": group(everything)}
    for i, name in enumerate(names):
        column = np.zeros(present.shape, bool)
        column[:, i] = True
        result[name] = group(column)
    if occluded is not None and (np.asarray(occluded, bool) & present).any():
        result["occluded"] = group(np.asarray(occluded, bool) & present)
    return result


def scored_errors_mm(
    pred_xy: np.ndarray, true_xy: np.ndarray, present: np.ndarray, spacing: np.ndarray
) -> np.ndarray:
    """``(N, K)`` radial errors in mm of the landmarks :func:`score` scores (present in the
    truth and reported present); NaN elsewhere — for per-landmark tables and plots."""
    pred = np.asarray(pred_xy, float)
    scored = np.asarray(present, bool) & np.isfinite(pred).all(axis=-1)
    return np.where(scored, radial_errors_mm(pred, true_xy, spacing), np.nan)
