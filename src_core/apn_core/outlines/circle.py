"""Fitting the circle of a femoral head to the points of a bone outline.

The head's contour is the longest circular arc of the proximal femur's outline; the neck,
trochanters and shaft around it are not circular. A robust fit therefore scores candidate
circles by how much of their *circumference* the outline follows (angular coverage of the
points within a tolerance), not by a least-squares fit to every point, then refines the
best one by geometric least squares on its own points.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

COVERAGE_BINS = 72  # 5° sectors


@dataclass(frozen=True)
class Circle:
    """A fitted circle: centre ``(x, y)`` px, radius px, RMS residual px, arc covered (degrees)."""

    centre: tuple[float, float]
    radius: float
    rms: float
    coverage_deg: float


def circle_through(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(M, 2)`` and radii ``(M,)`` of the circles through triples of points (NaN if collinear)."""
    ax, ay = p1[:, 0], p1[:, 1]
    bx, by = p2[:, 0], p2[:, 1]
    cx, cy = p3[:, 0], p3[:, 1]
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    with np.errstate(divide="ignore", invalid="ignore"):
        a2, b2, c2 = ax**2 + ay**2, bx**2 + by**2, cx**2 + cy**2
        ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
        uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    centres = np.stack([ux, uy], axis=1)
    radii = np.hypot(ax - ux, ay - uy)
    bad = np.abs(d) < 1e-9
    centres[bad] = np.nan
    radii[bad] = np.nan
    return centres, radii


def coverage(points: np.ndarray, centre: np.ndarray) -> float:
    """Degrees of the circle around ``centre`` that ``points`` cover, in 5° sectors."""
    ang = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    bins = np.floor((ang + np.pi) / (2 * np.pi) * COVERAGE_BINS).astype(int) % COVERAGE_BINS
    return 360.0 * len(np.unique(bins)) / COVERAGE_BINS


def refine(points: np.ndarray, centre: np.ndarray, radius: float, iterations: int = 20):
    """Geometric least-squares circle (Gauss-Newton on the radial residuals)."""
    c, r = np.asarray(centre, dtype=float).copy(), float(radius)
    for _ in range(iterations):
        d = points - c
        dist = np.hypot(d[:, 0], d[:, 1])
        dist = np.where(dist < 1e-12, 1e-12, dist)
        res = dist - r
        jac = np.column_stack([-d[:, 0] / dist, -d[:, 1] / dist, -np.ones(len(points))])
        step, *_ = np.linalg.lstsq(jac, -res, rcond=None)
        c += step[:2]
        r += step[2]
        if np.abs(step).max() < 1e-6:
            break
    res = np.hypot(*(points - c).T) - r
    return c, r, float(np.sqrt(np.mean(res**2)))


def candidates(
    points: np.ndarray, radius_range: tuple[float, float], samples: int = 48
) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(M, 2)`` and radii ``(M,)`` of the circles through every triple of ``samples``
    points spaced evenly along ``points`` (deterministic), within ``radius_range``."""
    idx = np.unique(np.linspace(0, len(points) - 1, min(samples, len(points))).round().astype(int))
    if len(idx) < 3:
        return np.zeros((0, 2)), np.zeros(0)
    triples = np.array(list(combinations(idx, 3)))
    centres, radii = circle_through(
        points[triples[:, 0]], points[triples[:, 1]], points[triples[:, 2]]
    )
    ok = np.isfinite(radii) & (radii >= radius_range[0]) & (radii <= radius_range[1])
    return centres[ok], radii[ok]


def refit(points: np.ndarray, centre: np.ndarray, radius: float, tolerance: float) -> Circle:
    """Refine a candidate on the points within ``tolerance`` of it, re-collecting them twice."""
    on = np.abs(np.hypot(*(points - centre).T) - radius) <= tolerance
    members = points[on]
    for _ in range(3):
        centre, radius, rms = refine(members, centre, radius)
        new = np.abs(np.hypot(*(points - centre).T) - radius) <= tolerance
        if new.sum() < 3 or np.array_equal(new, on):
            break
        on, members = new, points[new]
    centre, radius, rms = refine(members, centre, radius)
    return Circle(
        (float(centre[0]), float(centre[1])), float(radius), rms, coverage(members, centre)
    )
