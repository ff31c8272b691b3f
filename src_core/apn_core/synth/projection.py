"""Line integrals of simple 3-D solids through a parallel beam, on a 2-D detector grid.

Every solid's depth axis is the beam (z); its projected *thickness* at a detector point
is the chord length through it, in mm. Each shape is evaluated only inside its bounding
box, so a shape costs what it covers, whatever the image size.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass
class Grid:
    """Detector grid: pixel (row i, col j) has its centre at ``(x0 + j*s, y0 + i*s)`` mm."""

    x0: float
    y0: float
    spacing: float
    shape: tuple[int, int]

    def window(self, xmin: float, xmax: float, ymin: float, ymax: float):
        """Pixel slices covering the mm box, and the mm coordinates of those pixels (or None)."""
        s = self.spacing
        j0 = max(int(np.floor((xmin - self.x0) / s)), 0)
        j1 = min(int(np.ceil((xmax - self.x0) / s)) + 1, self.shape[1])
        i0 = max(int(np.floor((ymin - self.y0) / s)), 0)
        i1 = min(int(np.ceil((ymax - self.y0) / s)) + 1, self.shape[0])
        if j0 >= j1 or i0 >= i1:
            return None
        xs = (self.x0 + np.arange(j0, j1, dtype=np.float32) * s)[None, :]
        ys = (self.y0 + np.arange(i0, i1, dtype=np.float32) * s)[:, None]
        return (slice(i0, i1), slice(j0, j1)), xs, ys

    def coarse(self, factor: int) -> Grid:
        """A grid ``factor``× coarser whose pixel centres are the centres of factor×factor
        blocks of this one (see :func:`.filters.upsample`)."""
        rows, cols = self.shape
        shift = (factor - 1) / 2 * self.spacing
        return Grid(
            self.x0 + shift,
            self.y0 + shift,
            self.spacing * factor,
            (-(-rows // factor), -(-cols // factor)),
        )

    def to_pixel(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        """mm → (x=col, y=row) pixel coordinates."""
        return (x_mm - self.x0) / self.spacing, (y_mm - self.y0) / self.spacing


def _combine(layer: np.ndarray, sl, values: np.ndarray, mode: str) -> None:
    if mode == "add":
        layer[sl] += values
    else:
        np.maximum(layer[sl], values, out=layer[sl])


def ellipsoid(
    layer: np.ndarray,
    grid: Grid,
    centre: tuple[float, float],
    axes: tuple[float, float],
    depth: float,
    weight: float = 1.0,
    angle_deg: float = 0.0,
    mode: str = "add",
    half: tuple[float, ...] | None = None,
) -> None:
    """Ellipsoid with in-plane semi-axes ``axes`` (rotated by ``angle_deg``) and semi-depth
    ``depth``: chord = 2·depth·sqrt(1 − q). ``half`` = a direction (dx, dy) or (dx, dy, dz)
    (dz along the beam): keep only the half on that side of the plane through the centre
    (cups, shells, flat-ended bones). A plane that is not parallel to the beam (dz ≠ 0)
    projects its cut as a curve, like the rims of an acetabulum."""
    a, b = axes
    r = max(a, b)
    win = grid.window(centre[0] - r, centre[0] + r, centre[1] - r, centre[1] + r)
    if win is None:
        return
    sl, xs, ys = win
    dx, dy = xs - centre[0], ys - centre[1]
    t = np.deg2rad(angle_deg)
    u = dx * np.cos(t) + dy * np.sin(t)
    v = -dx * np.sin(t) + dy * np.cos(t)
    q = (u / a) ** 2 + (v / b) ** 2
    h = depth * np.sqrt(np.maximum(1.0 - q, 0.0))  # the chord is z in [-h, h]
    if half is None:
        chord = (2.0 * weight) * h
    elif len(half) == 2 or half[2] == 0:
        chord = (2.0 * weight) * h * ((dx * half[0] + dy * half[1]) >= 0)
    else:  # keep z on the side of the plane n·(dx, dy, z) = 0 that n points to
        z0 = -(dx * half[0] + dy * half[1]) / half[2]
        kept = h - np.maximum(z0, -h) if half[2] > 0 else np.minimum(z0, h) + h
        chord = weight * np.clip(kept, 0.0, 2.0 * h)
    _combine(layer, sl, chord.astype(np.float32), mode)


def shell(
    layer, grid, centre, axes, depth, thickness, weight=1.0, angle_deg=0.0, half=None
) -> None:
    """Hollow ellipsoid (cortical shell, metal cup): outer minus inner chord."""
    ellipsoid(layer, grid, centre, axes, depth, weight, angle_deg, half=half)
    inner = (axes[0] - thickness, axes[1] - thickness)
    if min(inner) > 0 and depth > thickness:
        ellipsoid(layer, grid, centre, inner, depth - thickness, -weight, angle_deg, half=half)


def tube(
    layer: np.ndarray,
    grid: Grid,
    p0: tuple[float, float],
    p1: tuple[float, float],
    r0: float,
    r1: float,
    weight: float = 1.0,
    mode: str = "add",
    wall: float | None = None,
    inner_weight: float = 0.0,
    rounded: bool = False,
) -> None:
    """Tapered cylinder from ``p0`` to ``p1`` (radii ``r0``→``r1``) with flat ends, so
    chained segments join without overlap; ``rounded`` adds spherical end caps instead
    (for max-combined soft tissue, where bent chains must not leave a gap).

    With ``wall`` (mm) it is a hollow shaft: the wall counts ``weight`` per mm, the
    medullary canal ``inner_weight`` per mm (a long bone's cortex and marrow).
    """
    rmax = max(r0, r1)
    xmin, xmax = min(p0[0], p1[0]) - rmax, max(p0[0], p1[0]) + rmax
    ymin, ymax = min(p0[1], p1[1]) - rmax, max(p0[1], p1[1]) + rmax
    win = grid.window(xmin, xmax, ymin, ymax)
    if win is None:
        return
    sl, xs, ys = win
    ax, ay = p1[0] - p0[0], p1[1] - p0[1]
    length2 = max(ax * ax + ay * ay, 1e-9)
    u = ((xs - p0[0]) * ax + (ys - p0[1]) * ay) / length2
    if rounded:
        u = np.clip(u, 0.0, 1.0)
    d2 = (xs - (p0[0] + u * ax)) ** 2 + (ys - (p0[1] + u * ay)) ** 2
    radius = np.where((u >= 0.0) & (u <= 1.0), r0 + u * (r1 - r0), 0.0)
    outer = 2.0 * np.sqrt(np.maximum(radius**2 - d2, 0.0))
    if wall is None:
        values = weight * outer
    else:
        core = np.maximum(radius - wall, 0.0)
        inner = 2.0 * np.sqrt(np.maximum(core**2 - d2, 0.0))
        values = weight * (outer - inner) + inner_weight * inner
    _combine(layer, sl, values.astype(np.float32), mode)


def articular_surface(
    layer: np.ndarray,
    grid: Grid,
    top: tuple[float, float],
    half_width: float,
    radius: float,
    depth: float,
    height: float,
    weight: float = 1.0,
    angle_deg: float = 0.0,
    concave: bool = False,
    mode: str = "add",
    shoulder: float = 0.0,
) -> None:
    """A joint surface curved front to back, seen end-on by the beam: a cylinder of ``radius``
    whose axis runs across the image (rotated by ``angle_deg``), ``2·half_width`` wide, from
    its apex ``top`` down ``height`` mm. At ``t`` mm below the apex a ray crosses
    ``c(t) = 2·sqrt(2·r·t − t²)`` mm of the cylinder. Convex (a talar dome): the chord is
    ``c(t)``, capped at ``2·depth`` (the bone's length along the beam) — it grows softly from
    the apex instead of starting as a wall. Concave (the lips around a plafond): the bone
    around the concavity, ``2·depth − c(t)`` (≥ 0). ``shoulder``: rounds the two top corners
    in the image plane with this radius (mm), as a dome's shoulders are."""
    t_rad = np.deg2rad(angle_deg)
    reach = max(half_width, height) + 1.0
    cx, cy = top[0] + 0.5 * height * -np.sin(t_rad), top[1] + 0.5 * height * np.cos(t_rad)
    win = grid.window(cx - reach, cx + reach, cy - reach, cy + reach)
    if win is None:
        return
    sl, xs, ys = win
    dx, dy = xs - top[0], ys - top[1]
    u = dx * np.cos(t_rad) + dy * np.sin(t_rad)
    t = -dx * np.sin(t_rad) + dy * np.cos(t_rad)
    reach_u = half_width
    if shoulder > 0:
        r = min(shoulder, half_width)
        reach_u = half_width - r + np.sqrt(np.clip(r * r - (r - np.minimum(t, r)) ** 2, 0.0, None))
    inside = (np.abs(u) <= reach_u) & (t >= 0) & (t <= height)
    chord = 2.0 * np.sqrt(np.clip(2.0 * radius * t - t * t, 0.0, None))
    chord = np.maximum(2.0 * depth - chord, 0.0) if concave else np.minimum(chord, 2.0 * depth)
    _combine(layer, sl, (weight * chord * inside).astype(np.float32), mode)


def polygon_plate(layer, grid, vertices: np.ndarray, thickness: float, weight: float = 1.0) -> None:
    """A flat plate of uniform thickness with a polygonal outline (lead shields)."""
    xmin, ymin = vertices.min(axis=0)
    xmax, ymax = vertices.max(axis=0)
    win = grid.window(xmin, xmax, ymin, ymax)
    if win is None:
        return
    sl, xs, ys = win
    inside = np.zeros(np.broadcast_shapes(xs.shape, ys.shape), dtype=bool)
    n = len(vertices)
    for k in range(n):  # even-odd rule
        (xa, ya), (xb, yb) = vertices[k], vertices[(k + 1) % n]
        crosses = (ya > ys) != (yb > ys)
        x_at = xa + (ys - ya) * (xb - xa) / ((yb - ya) if yb != ya else 1e-9)
        inside ^= crosses & (xs < x_at)
    layer[sl] += (weight * thickness) * inside.astype(np.float32)


def arc(layer, grid, centre, radius, from_deg, to_deg, r_tube, weight=1.0, segments=16) -> None:
    """A curved band: tube segments along a circle (0° = image right, 90° = down)."""
    angles = np.deg2rad(np.linspace(from_deg, to_deg, segments + 1))
    pts = np.asarray(centre, float) + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    for p0, p1 in itertools.pairwise(pts):
        tube(layer, grid, tuple(p0), tuple(p1), r_tube, r_tube, weight)


def slab(layer, grid, p0, p1, half_width: float, thickness: float, weight: float = 1.0) -> None:
    """A flat strip from ``p0`` to ``p1`` (plates, rulers, blocks): ``half_width`` mm either
    side of the segment in the image, ``thickness`` mm along the beam."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9) * half_width
    polygon_plate(layer, grid, np.array([p0 + n, p1 + n, p1 - n, p0 - n]), thickness, weight)
