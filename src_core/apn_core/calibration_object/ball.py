"""A metal calibration sphere of known diameter: where it is and how many pixels across.

A steel sphere stops the beam through all but its outermost tenth of a millimetre, so it
images as a flat disk with a sharp outline (not always the brightest thing: display
processing greys it). **Finding it** (on the reduced copy): a scale-normalised
Laplacian of Gaussian peaks at the
centre of each round blob; a peak is a ball when it is flat inside and rays from it meet
a falling edge at one radius on most of the circle — a hip prosthesis head, though round
and metal, sits in a metal cup and on a neck (something as bright just outside it), and a femoral head has a
cortex and a trabecular pattern (not flat). The radius must also give a
possible film length (:data:`~apn_core.calibration_object.ruler.FILM_LENGTH_MM`).
**Measuring it** (full resolution, around the ball only): 180 rays find where the profile
has fallen 70 % of the way from the disk's level to the background's, a circle is fitted to
those points with outliers (a lead marker over part of the rim, the image edge) dropped,
and spacing = diameter / (2 · radius). The residuals give the uncertainty.

Why 70 %, not half: the detector blurs the *intensity*, and the display is close to its
logarithm, in which the outline's profile is no longer symmetric — the half level lies
inside the outline by a fraction of the blur (−1 % of the diameter at 0.5 mm/px,
median of 13 synthetic balls, down to −2.3 % with 0.4 mm of blur); the 30 % level from
the background stays within ±1 % of the true outline on the same balls
(``benchmarks/spacing_object.py`` measures it on more).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from apn_core.calibration_object.ticks import FILM_LENGTH_MM

RAYS = 180
MIN_EDGE_FRACTION = 0.6  # of the rays that must meet the outline
MAX_RADIUS_SPREAD = 0.06  # relative spread of the radii those rays give (a round blob)
EDGE_LEVEL = 0.3  # see the module docstring
MIN_CONTRAST = 0.04  # the ball's step over its surroundings, of the film's grey range
MAX_CORE_SPREAD = 0.08  # grey-level spread inside it, of that step (a flat disk)
MAX_DOME = 0.04  # centre over mid-radius, of the step: steel saturates flat, bone domes
MAX_ATTACHED = 0.08  # share of directions in which something as bright lies just outside
MAX_SURROUNDED = 0.3  # … or anywhere out to 1.8 radii (a cup; a leg's edge is in a few)


def find_ball(
    pixels: np.ndarray,
    work: np.ndarray,
    scale: float,
    diameter_mm: float,
    film_px: float,
    expected: tuple[float, float] | None = None,
) -> tuple[str, float, float, tuple[int, int, int, int], str] | None:
    """``("ball", spacing, uncertainty, box, detail)`` or ``None``; ``work`` is ``pixels``
    downsampled by ``scale``; ``film_px`` the film's long side in image pixels;
    ``expected`` a (low, high) mm/px range for the spacing (from the file's own)."""
    if diameter_mm <= 0:
        return None
    low, high = expected or (FILM_LENGTH_MM[0] / film_px, FILM_LENGTH_MM[1] / film_px)
    r_lo = diameter_mm / 2 / high / scale  # work px
    r_hi = diameter_mm / 2 / low / scale
    if r_hi < 3:
        return None
    best = None
    lo, hi = np.percentile(work[::4, ::4], [1.0, 99.0])
    for centre, radius in _candidates(work, r_lo, r_hi):
        fraction, spread, centre, radius = _ray_check(work, centre, radius, float(hi - lo))
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
    if not low * 0.98 <= spacing <= high * 1.02:
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


def _candidates(work: np.ndarray, r_lo: float, r_hi: float, limit: int = 80):
    """Centres (row, col) and radii (work px) of the most ball-like blobs with a radius in
    ``r_lo··r_hi``: maxima of the scale-normalised Laplacian of Gaussian, each scale on a
    copy reduced so the blob is ~3 px across its radius (cheap at any size), ranked by
    that response over the grey-level spread inside the blob (a steel ball is flat: a
    bone, a joint, a blurred edge are not)."""
    found = []
    reduced: dict[int, np.ndarray] = {}
    r = max(r_lo, 2.0)
    while r <= r_hi * 1.05:
        f = max(round(r / 3.0), 1)
        if f not in reduced:
            rows, cols = work.shape[0] // f * f, work.shape[1] // f * f
            reduced[f] = work[:rows, :cols].reshape(rows // f, f, cols // f, f).mean(axis=(1, 3))
        img = reduced[f]
        sigma = r / f / math.sqrt(2)
        response = -(sigma**2) * ndimage.gaussian_laplace(img, sigma)
        size = max(int(2 * r / f) | 1, 3)
        peaks = (response == ndimage.maximum_filter(response, size=size)) & (response > 0)
        box = max(int(r / f), 1) | 1  # the blob's inner half
        mean = ndimage.uniform_filter(img, box)
        spread = np.sqrt(np.maximum(ndimage.uniform_filter(img * img, box) - mean * mean, 0.0))
        ys, xs = np.nonzero(peaks)
        score = response[ys, xs] / (spread[ys, xs] + 0.02 * (float(np.ptp(img)) + 1e-12))
        for i in np.argsort(-score)[:limit]:
            centre = (ys[i] * f + (f - 1) / 2, xs[i] * f + (f - 1) / 2)
            found.append((float(score[i]), centre, r))
        r *= 1.3
    found.sort(key=lambda c: -c[0])
    out: list[tuple[tuple[float, float], float]] = []
    for _, c, radius in found:
        if all(math.hypot(c[0] - o[0][0], c[1] - o[0][1]) > 0.8 * o[1] for o in out):
            out.append((c, radius))
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
    """Per ray, where the profile first falls to :data:`EDGE_LEVEL` of the way from the
    background's level to the disk's (NaN where the ray has no clean outline)."""
    inner = radii <= 0.75 * radius
    outer = radii >= 1.25 * radius
    level_in = np.median(values[:, inner], axis=1)
    level_out = np.median(values[:, outer], axis=1)
    contrast = level_in - level_out
    typical = np.median(contrast)
    half = level_out + EDGE_LEVEL * (level_in - level_out)
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


def _ray_check(work: np.ndarray, centre, radius: float, grey_range: float):
    """(fraction of 64 rays meeting a round outline, its relative spread, refined centre,
    radius) of the blob at ``centre``; fraction 0 for a blob that is not flat inside (a
    bone: a steel ball's image is one flat grey), that stands out too little, or that has
    something as bright just outside it in several directions (a prosthesis head on its
    neck, in its cup; a ball a lead marker lies on is refused too — never misread), or
    that is brighter at its centre than half-way out (a bone: its chord length makes a
    dome, where a steel ball stops the beam flat).

    The blob's scale is only roughly its radius and a blob found on a reduced copy is off
    centre by a pixel or two: the radius is first where the rays first fall steeply, and
    the outline points are fitted with a circle before they are judged."""
    radii, values, _ = _profiles(work, centre, radius, 64, 0.2, 2.0)
    fall = -np.diff(values, axis=1)
    steep = fall >= 0.3 * fall.max(axis=1, keepdims=True)
    radius = float(np.median(radii[np.argmax(steep, axis=1)]))
    if radius < 2.0:
        return 0.0, 1.0, centre, radius
    for _ in range(2):
        radii, values, inside = _profiles(work, centre, radius, 64, 0.3, 1.8)
        core = values[:, radii <= 0.6 * radius]
        rim = values[:, radii >= 1.3 * radius]
        contrast = float(np.median(core) - np.median(rim))
        if (
            contrast <= MIN_CONTRAST * grey_range
            or float(np.std(core)) > MAX_CORE_SPREAD * contrast
        ):
            return 0.0, 1.0, centre, radius
        edge = _edges(radii, values, inside, radius)
        good = np.isfinite(edge)
        if good.sum() < 8:
            return 0.0, 1.0, centre, radius
        angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)[good]
        fit = _circle(
            centre[0] + np.sin(angles) * edge[good], centre[1] + np.cos(angles) * edge[good]
        )
        if fit is None:
            return 0.0, 1.0, centre, radius
        centre, radius, resid = fit
    radii, values, _ = _profiles(work, centre, radius, 64, 0.0, 1.8)
    collar = values[:, (radii >= 1.2 * radius) & (radii <= 1.5 * radius)]
    core = values[:, radii <= 0.6 * radius]
    rim = values[:, radii >= 1.3 * radius]
    contrast = float(np.median(core) - np.median(rim))
    centre_grey = np.median(values[:, radii <= 0.25 * radius])
    mid_grey = np.median(values[:, (radii >= 0.5 * radius) & (radii <= 0.7 * radius)])
    if centre_grey - mid_grey > MAX_DOME * contrast:  # a bone: its chord makes a dome
        return 0.0, 1.0, centre, radius
    bright = np.median(rim) + 0.5 * contrast
    attached = (collar >= bright).any(axis=1).mean()  # a neck on the head
    surrounded = (rim >= bright).any(axis=1).mean()  # a cup around it
    if attached > MAX_ATTACHED or surrounded > MAX_SURROUNDED:
        return 0.0, 1.0, centre, radius
    spread = float(np.median(np.abs(resid))) * 1.4826 / radius
    near = float((np.abs(resid) <= 0.1 * radius).sum()) / 64
    return near, spread, centre, radius


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
