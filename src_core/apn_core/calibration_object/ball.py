"""A metal calibration sphere of known diameter: where it is and how many pixels across.

A steel sphere stops the beam through all but its outermost tenth of a millimetre, so it
images as a flat, brightest disk with a sharp outline. **Finding it** (on the downsampled
copy): the brightest pixels are thresholded and their distance transform peaks at the
centre of each round blob; a peak is a ball when rays from it meet a falling edge at one
radius on most of the circle — a hip prosthesis head, though round and metal, sits in a
metal cup and on a neck, so most of its rays run into metal. The radius must also give a
possible film length (:data:`~apn_core.calibration_object.ruler.FILM_LENGTH_MM`).
**Measuring it** (full resolution, around the ball only): 180 rays find where the profile
crosses halfway between the disk's level and the background's, a circle is fitted to
those points with outliers (a lead marker over part of the rim, the image edge) dropped,
and spacing = diameter / (2 · radius). The residuals give the uncertainty.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from apn_core.calibration_object.ticks import FILM_LENGTH_MM

RAYS = 180
MIN_EDGE_FRACTION = 0.6  # of the rays that must meet the outline
MAX_RADIUS_SPREAD = 0.06  # relative spread of the radii those rays give (a round blob)


def find_ball(
    pixels: np.ndarray, work: np.ndarray, scale: float, diameter_mm: float, film_px: float
) -> tuple[str, float, float, tuple[int, int, int, int], str] | None:
    """``("ball", spacing, uncertainty, box, detail)`` or ``None``; ``work`` is ``pixels``
    downsampled by ``scale``; ``film_px`` the film's long side in image pixels."""
    if diameter_mm <= 0:
        return None
    r_lo = diameter_mm / 2 * film_px / FILM_LENGTH_MM[1] / scale  # work px
    r_hi = diameter_mm / 2 * film_px / FILM_LENGTH_MM[0] / scale
    if r_hi < 3:
        return None
    best = None
    for centre, radius in _candidates(work, r_lo, r_hi):
        fraction, spread, radius = _ray_check(work, centre, radius)
        good = fraction >= MIN_EDGE_FRACTION and spread <= MAX_RADIUS_SPREAD
        if good and (best is None or fraction > best[0]):
            best = (fraction, centre, radius)
    if best is None:
        return None
    _, (cy, cx), radius = best
    fit = _fit_outline(
        pixels, (cy * scale + (scale - 1) / 2, cx * scale + (scale - 1) / 2), radius * scale
    )
    if fit is None:
        return None
    (y, x), r, r_se, used = fit
    spacing = diameter_mm / (2 * r)
    film_mm = film_px * spacing
    if not FILM_LENGTH_MM[0] <= film_mm <= FILM_LENGTH_MM[1]:
        return None
    rows, cols = pixels.shape
    box = (
        max(int(y - r), 0),
        min(math.ceil(y + r) + 1, rows),
        max(int(x - r), 0),
        min(math.ceil(x + r) + 1, cols),
    )
    detail = f"{diameter_mm:g} mm ball, {2 * r:.2f} px across, outline on {used} of {RAYS} rays"
    return "ball", spacing, spacing * r_se / r, box, detail


def _candidates(work: np.ndarray, r_lo: float, r_hi: float, limit: int = 12):
    """Centres (row, col) and radii (work px) of the roundest bright blobs in range."""
    lo, hi = np.percentile(work, [50.0, 99.9])
    if hi <= lo:
        return []
    mask = work >= lo + 0.7 * (hi - lo)
    dist = ndimage.distance_transform_edt(mask)
    peaks = (dist == ndimage.maximum_filter(dist, size=5)) & (dist >= max(0.8 * r_lo, 2.0))
    peaks &= dist <= 1.2 * r_hi
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-dist[ys, xs])[: limit * 4]
    out: list[tuple[tuple[float, float], float]] = []
    for i in order:
        c = (float(ys[i]), float(xs[i]))
        if all(math.hypot(c[0] - o[0][0], c[1] - o[0][1]) > o[1] for o in out):
            out.append((c, float(dist[ys[i], xs[i]]) + 0.5))
        if len(out) >= limit:
            break
    return out


def _profiles(image: np.ndarray, centre, radius: float, n: int, inner: float, outer: float):
    """Samples along ``n`` rays from ``centre`` at radii ``inner··outer`` × ``radius``;
    ``(radii, values (n, samples), inside-image mask (n, samples))``."""
    steps = max(int((outer - inner) * radius / 0.25), 8)
    radii = np.linspace(inner * radius, outer * radius, steps)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ys = centre[0] + np.sin(angles)[:, None] * radii[None, :]
    xs = centre[1] + np.cos(angles)[:, None] * radii[None, :]
    rows, cols = image.shape
    inside = (ys >= 0) & (ys <= rows - 1) & (xs >= 0) & (xs <= cols - 1)
    values = ndimage.map_coordinates(image, [ys.ravel(), xs.ravel()], order=1, mode="nearest")
    return radii, values.reshape(ys.shape).astype(np.float64), inside


def _edges(radii, values, inside, radius):
    """Per ray, where the profile first falls through the level halfway between the
    disk's and the background's (NaN where the ray has no clean outline)."""
    inner = radii <= 0.75 * radius
    outer = radii >= 1.25 * radius
    level_in = np.median(values[:, inner], axis=1)
    level_out = np.median(values[:, outer], axis=1)
    contrast = level_in - level_out
    typical = np.median(contrast)
    half = (level_in + level_out) / 2
    below = values < half[:, None]
    below[:, inner] = False
    first = np.argmax(below, axis=1)
    ok = below.any(axis=1) & (contrast > 0.5 * max(typical, 1e-12)) & inside.all(axis=1)
    # the background must stay low past the edge (no cup, no neck, no second object)
    ok &= np.all(values[:, outer] < half[:, None] + 0.25 * contrast[:, None], axis=1)
    k = np.clip(first, 1, len(radii) - 1)
    rows = np.arange(len(values))
    v0, v1 = values[rows, k - 1], values[rows, k]
    t = np.clip((v0 - half) / np.where(v0 - v1 == 0, 1, v0 - v1), 0, 1)
    edge = radii[k - 1] + t * (radii[k] - radii[k - 1])
    edge[~ok] = np.nan
    return edge


def _ray_check(work: np.ndarray, centre, radius: float) -> tuple[float, float, float]:
    """(fraction of 64 rays meeting an outline, their relative spread, median radius)."""
    radii, values, inside = _profiles(work, centre, radius, 64, 0.3, 1.8)
    edge = _edges(radii, values, inside, radius)
    good = np.isfinite(edge)
    if good.sum() < 8:
        return 0.0, 1.0, radius
    r = float(np.median(edge[good]))
    spread = float(np.median(np.abs(edge[good] - r))) * 1.4826 / r
    near = good & (np.abs(edge - r) <= 0.15 * r)
    return float(near.mean()), spread, r


def _fit_outline(pixels: np.ndarray, centre, radius: float):
    """Circle fitted to the outline at full resolution: ((row, col), radius, its standard
    error, rays used), or None."""
    r_max = 1.8 * radius + 4
    y0, x0 = max(int(centre[0] - r_max), 0), max(int(centre[1] - r_max), 0)
    y1 = min(int(centre[0] + r_max) + 1, pixels.shape[0])
    x1 = min(int(centre[1] + r_max) + 1, pixels.shape[1])
    crop = np.asarray(pixels[y0:y1, x0:x1], np.float32)
    c = (centre[0] - y0, centre[1] - x0)
    for _ in range(2):  # the second pass starts from the first fit's centre and radius
        radii, values, inside = _profiles(crop, c, radius, RAYS, 0.4, 1.7)
        edge = _edges(radii, values, inside, radius)
        angles = np.linspace(0, 2 * np.pi, RAYS, endpoint=False)
        good = np.isfinite(edge)
        if good.sum() < MIN_EDGE_FRACTION * RAYS:
            return None
        py = c[0] + np.sin(angles[good]) * edge[good]
        px = c[1] + np.cos(angles[good]) * edge[good]
        fit = _circle(py, px)
        if fit is None:
            return None
        (cy, cx), radius, resid = fit
        keep = np.abs(resid) <= max(3 * 1.4826 * np.median(np.abs(resid)), 0.05)
        fit = _circle(py[keep], px[keep])
        if fit is None or keep.sum() < MIN_EDGE_FRACTION * RAYS * 0.8:
            return None
        (cy, cx), radius, resid = fit
        c = (cy, cx)
    se = float(np.std(resid) / math.sqrt(len(resid)))
    return (cy + y0, cx + x0), float(radius), max(se, 1e-4 * radius), len(resid)


def _circle(py: np.ndarray, px: np.ndarray):
    """Least-squares circle (Kåsa, then one Gauss–Newton refinement of the geometric
    distances): ((cy, cx), r, residuals) or None."""
    if len(py) < 5:
        return None
    a = np.stack([px, py, np.ones_like(px)], axis=1)
    b = px**2 + py**2
    (d, e, f), *_ = np.linalg.lstsq(a, b, rcond=None)
    cx, cy = d / 2, e / 2
    r2 = f + cx**2 + cy**2
    if r2 <= 0:
        return None
    r = math.sqrt(r2)
    for _ in range(3):
        dx, dy = px - cx, py - cy
        dist = np.hypot(dx, dy)
        dist = np.where(dist == 0, 1e-9, dist)
        resid = dist - r
        jac = np.stack([-dx / dist, -dy / dist, -np.ones_like(dist)], axis=1)
        step, *_ = np.linalg.lstsq(jac, -resid, rcond=None)
        cx, cy, r = cx + step[0], cy + step[1], r + step[2]
    resid = np.hypot(px - cx, py - cy) - r
    return (float(cy), float(cx)), float(r), resid
