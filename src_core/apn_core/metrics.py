"""Landmark errors in millimetres: radial error, MRE, PCK at mm thresholds."""

from __future__ import annotations

import numpy as np


def radial_errors_mm(pred_xy: np.ndarray, true_xy: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Euclidean distance in mm. ``pred_xy``/``true_xy``: ``(N, K, 2)`` image px (x, y);
    ``spacing``: ``(N, 2)`` (row_mm, col_mm). NaN where either side is NaN."""
    d = np.asarray(pred_xy, float) - np.asarray(true_xy, float)
    s = np.asarray(spacing, float)[:, None, :]
    return np.sqrt((d[..., 0] * s[..., 1]) ** 2 + (d[..., 1] * s[..., 0]) ** 2)


def summarise(
    errors: np.ndarray, names: tuple[str, ...], thresholds: tuple[float, ...] = (10.0, 20.0)
) -> dict:
    """MRE, SD, median and PCK@thresholds overall and per landmark; NaN errors are skipped.

    ``errors``: ``(N, K)`` mm. Returned PCK values are fractions (0–1).
    """

    def stats(e: np.ndarray) -> dict:
        e = e[np.isfinite(e)]
        if e.size == 0:
            return {"n": 0}
        out = {
            "n": int(e.size),
            "mre": float(e.mean()),
            "sd": float(e.std()),
            "median": float(np.median(e)),
        }
        out.update({f"pck@{t:g}": float((e <= t).mean()) for t in thresholds})
        return out

    result = {"all": stats(errors.ravel())}
    for i, name in enumerate(names):
        result[name] = stats(errors[:, i])
    return result
