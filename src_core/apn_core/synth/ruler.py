"""A radio-opaque ruler: a plastic strip with metal ticks (and, in some styles, numbers).

Styles (:data:`RULER_STYLES`), as tick levels from fine to coarse — ``(period, width,
length)`` mm; a coarser tick replaces the finer one at the same place:

- ``cm``: ticks every cm, a long one every 5 cm (the generator's original ruler);
- ``mm``: mm, 5 mm and cm ticks (a draughtsman's ruler);
- ``5mm``: 5 mm and cm ticks, the cm ones longer;
- ``numbered``: 5 mm and cm ticks with lead numbers every 2 cm (cm), written along the
  ruler — the ruler on the OAI long-leg films.

``scale`` is the ruler's magnification on the detector (1 = lying on it): every length
is multiplied by it, so the spacing *at the ruler* is the grid spacing / ``scale``.
"""

from __future__ import annotations

import numpy as np

from apn_core.synth.overlays import text_mask
from apn_core.synth.projection import Grid

MU_TICK = 0.9  # per mm of metal
TICK_THICKNESS = 0.8  # mm of metal along the beam
RULER_WIDTH_MM = 20.0

TICK_LEVELS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "cm": ((10.0, 1.0, 8.0), (50.0, 1.0, 15.0)),
    "mm": ((1.0, 0.3, 4.0), (5.0, 0.4, 7.0), (10.0, 0.5, 11.0)),
    "5mm": ((5.0, 0.5, 6.0), (10.0, 0.6, 11.0)),
    "numbered": ((5.0, 0.5, 5.0), (10.0, 0.6, 9.0)),
}
RULER_STYLES = tuple(TICK_LEVELS)
NUMBER_EVERY_MM = 20.0  # the numbered style labels every 2nd cm
NUMBER_HEIGHT_MM = 4.0


def render_ruler(
    layer: np.ndarray,
    grid: Grid,
    x_mm: float,
    start_mm: float,
    y_range_mm: tuple[float, float] | None = None,
    mirrored: bool = False,
    style: str = "cm",
    scale: float = 1.0,
) -> None:
    """Add the ruler (μ·t) at ``x_mm`` (its left edge), ticks from ``start_mm``; along the
    full height, or only over ``y_range_mm``. ``mirrored``: ticks point left."""
    s = grid.spacing
    rows, cols = grid.shape
    j0 = round((x_mm - grid.x0) / s)
    width_px = round(RULER_WIDTH_MM * scale / s)
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
    coverage = np.zeros(len(ys), np.float32)
    length_mm = np.zeros(len(ys))  # float64, as the comparisons below were written
    for period, width, length in TICK_LEVELS[style]:
        period, width, length = period * scale, width * scale, length * scale
        phase = (ys - start_mm) % period
        dist = np.minimum(phase, period - phase)
        cov = np.clip((0.5 * width + 0.5 * s - dist) / s, 0.0, 1.0)  # anti-aliased tick
        coverage = np.where(cov > 0, cov, coverage)
        length_mm = np.where(cov > 0, length, length_mm)
    c0, c1 = max(j0, 0), min(j0 + width_px + 1, cols)
    xs = grid.x0 + np.arange(c0, c1, dtype=np.float32) * s
    right = x_mm + RULER_WIDTH_MM * scale
    if mirrored:
        inside = (xs[None, :] <= right) & (xs[None, :] >= right - length_mm[:, None])
    else:
        inside = (xs[None, :] >= x_mm) & (xs[None, :] <= x_mm + length_mm[:, None])
    layer[i0:i1, c0:c1] += (MU_TICK * TICK_THICKNESS) * coverage[:, None] * inside
    if style == "numbered":
        _numbers(layer, grid, x_mm, start_mm, (i0, i1), mirrored, scale)


def _numbers(layer, grid: Grid, x_mm, start_mm, rows, mirrored: bool, scale: float) -> None:
    """Lead numbers (cm) every :data:`NUMBER_EVERY_MM`, rotated to run along the ruler,
    between the longest ticks and the far edge of the strip."""
    s = grid.spacing
    height = max(round(NUMBER_HEIGHT_MM * scale / s), 4)
    i0, i1 = rows
    y_top, y_bottom = grid.y0 + i0 * s, grid.y0 + (i1 - 1) * s
    first = int(np.ceil((y_top - start_mm) / (NUMBER_EVERY_MM * scale)))
    last = int(np.floor((y_bottom - start_mm) / (NUMBER_EVERY_MM * scale)))
    ticks_mm = max(length for _, _, length in TICK_LEVELS["numbered"]) * scale
    for n in range(max(first, 0), last + 1):
        label = str(int(n * NUMBER_EVERY_MM / 10))
        mask = np.rot90(text_mask(label, height))  # (along the ruler, across it)
        h, w = mask.shape
        y = start_mm + n * NUMBER_EVERY_MM * scale
        across = x_mm + ticks_mm + 1.0 * scale
        if mirrored:
            across = x_mm + RULER_WIDTH_MM * scale - ticks_mm - 1.0 * scale - w * s
        r = round((y - grid.y0) / s - h / 2)
        c = round((across - grid.x0) / s)
        r0, c0 = max(r, i0), max(c, 0)
        r1, c1 = min(r + h, i1), min(c + w, grid.shape[1])
        if r1 > r0 and c1 > c0:
            patch = mask[r0 - r : r1 - r, c0 - c : c1 - c]
            layer[r0:r1, c0:c1] += (MU_TICK * TICK_THICKNESS) * patch
