"""Plain geometry on a bone outline: a closed polygon of ``(x, y)`` pixel vertices.

Image convention throughout (x = column, y = row, y grows downwards), so "upper" means a
smaller y. Everything here is small numpy, with no notion of anatomy.
"""

from __future__ import annotations

import numpy as np


def as_polygon(points: np.ndarray) -> np.ndarray:
    """``(N, 2)`` float64 vertices of a closed polygon, without a repeated last vertex.

    Raises ``ValueError`` for fewer than 3 distinct vertices or non-finite coordinates.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(pts)):
        raise ValueError("an outline point is not a finite number")
    if len(pts) > 1 and np.allclose(pts[0], pts[-1]):
        pts = pts[:-1]
    if len(np.unique(pts.round(6), axis=0)) < 3:
        raise ValueError(f"an outline needs at least 3 distinct points, it has {len(pts)}")
    return pts


def densify(poly: np.ndarray, step: float) -> np.ndarray:
    """Points along the closed outline every ``step`` pixels (vertices included)."""
    out = []
    for a, b in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        n = max(1, int(np.ceil(np.hypot(*(b - a)) / step)))
        t = np.arange(n)[:, None] / n
        out.append(a + t * (b - a))
    return np.concatenate(out)


def vertical_crossings(poly: np.ndarray, x: float) -> np.ndarray:
    """The y values where the vertical line at ``x`` crosses the outline's edges."""
    a, b = poly, np.roll(poly, -1, axis=0)
    lo, hi = np.minimum(a[:, 0], b[:, 0]), np.maximum(a[:, 0], b[:, 0])
    hit = (lo <= x) & (x < hi) & (hi > lo)
    a, b = a[hit], b[hit]
    t = (x - a[:, 0]) / (b[:, 0] - a[:, 0])
    return a[:, 1] + t * (b[:, 1] - a[:, 1])


def horizontal_crossings(poly: np.ndarray, y: float) -> np.ndarray:
    """The x values where the horizontal line at ``y`` crosses the outline's edges."""
    return vertical_crossings(poly[:, ::-1], y)


def envelope(
    poly: np.ndarray, xs: np.ndarray, y_range: tuple[float, float], lower: bool
) -> np.ndarray:
    """Per column in ``xs``: the lowest (``lower``, largest y) or highest crossing of the outline
    within ``y_range``; NaN where the column does not cross it there.

    This is the bone's edge seen from below (the distal joint surface) or from above (the
    proximal one), the way a reader scans a joint line.
    """
    out = np.full(len(xs), np.nan)
    for i, x in enumerate(xs):
        ys = vertical_crossings(poly, float(x))
        ys = ys[(ys >= y_range[0]) & (ys <= y_range[1])]
        if len(ys):
            out[i] = ys.max() if lower else ys.min()
    return out


def inside(poly: np.ndarray, point: np.ndarray) -> bool:
    """Whether ``point`` lies inside the outline (even-odd rule)."""
    ys = vertical_crossings(poly, float(point[0]))
    return bool(np.sum(ys < point[1]) % 2 == 1)


def line_at(p: tuple[float, float], q: tuple[float, float], x: np.ndarray | float):
    """y of the straight line through ``p`` and ``q`` at ``x`` (``p``'s y where it is vertical)."""
    if abs(q[0] - p[0]) < 1e-9:
        return np.full_like(np.asarray(x, dtype=float), p[1])
    return p[1] + (np.asarray(x, dtype=float) - p[0]) * (q[1] - p[1]) / (q[0] - p[0])
