"""A radio-opaque ruler lying on the detector: a plastic strip with metal ticks every cm.

It is drawn at true scale, so it doubles as a visible spacing check.
"""

from __future__ import annotations

import numpy as np

from apn_core.synth.projection import Grid

MU_TICK = 0.9  # per mm of metal
TICK_THICKNESS = 0.8  # mm of metal along the beam


def render_ruler(
    layer: np.ndarray,
    grid: Grid,
    x_mm: float,
    start_mm: float,
    y_range_mm: tuple[float, float] | None = None,
    mirrored: bool = False,
) -> None:
    """Add the ruler (μ·t) at ``x_mm`` (its left edge), ticks from ``start_mm``; along the
    full height, or only over ``y_range_mm``. ``mirrored``: ticks point left."""
    s = grid.spacing
    rows, cols = grid.shape
    j0 = round((x_mm - grid.x0) / s)
    width_px = round(20.0 / s)
    if j0 >= cols or j0 + width_px <= 0:
        return
    i0, i1 = 0, rows
    if y_range_mm is not None:
        i0 = int(np.clip(round((y_range_mm[0] - grid.y0) / s), 0, rows))
        i1 = int(np.clip(round((y_range_mm[1] - grid.y0) / s), 0, rows))
        if i1 <= i0:
            return
    ys = grid.y0 + np.arange(i0, i1, dtype=np.float32) * s
    layer[i0:i1, max(j0, 0) : min(j0 + width_px, cols)] += 3.0 * 0.012  # 3 mm of plastic
    phase = (ys - start_mm) % 10.0
    dist = np.minimum(phase, 10.0 - phase)
    coverage = np.clip((0.5 + 0.5 * s - dist) / s, 0.0, 1.0)  # 1 mm wide tick, anti-aliased
    index = np.round((ys - start_mm) / 10.0).astype(int)
    length_mm = np.where(index % 5 == 0, 15.0, 8.0)
    c0, c1 = max(j0, 0), min(j0 + width_px + 1, cols)
    xs = grid.x0 + np.arange(c0, c1, dtype=np.float32) * s
    if mirrored:
        right = x_mm + 20.0
        inside = (xs[None, :] <= right) & (xs[None, :] >= right - length_mm[:, None])
    else:
        inside = (xs[None, :] >= x_mm) & (xs[None, :] <= x_mm + length_mm[:, None])
    layer[i0:i1, c0:c1] += (MU_TICK * TICK_THICKNESS) * coverage[:, None] * inside
