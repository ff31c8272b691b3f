"""The landmark definitions (apn_core.synth.definitions), measured on the rendered solids.

Each bone is rendered alone (noise-free μ·t of the bone layer) and the landmark is found
the way a reader would find it, without the sampled parameters: a circle fitted to the
femoral head outline; the tibial spine tips and the joint line (between the condyles and
the plateau) in the frame of the tibial axis measured on the rendered shaft; the mid-plafond
read from the rendered tibia's outline by the same function that derived the real films'
ground truth (:func:`apn_core.outlines.derive.plafond`), and the tibiotalar joint line
between that plafond and the talar dome. Then it is compared with the ground truth.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from apn_core.outlines.derive import plafond
from apn_core.synth import ankle, bones
from apn_core.synth.anatomy import AnatomyPriors, Leg, sample_anatomy
from apn_core.synth.draws import Draws
from apn_core.synth.hardware import HardwarePriors, render_hardware, sample_hardware
from apn_core.synth.phantom import empty_maps
from apn_core.synth.projection import Grid

FINE = 0.2  # mm/px of the crops the landmarks are measured on
COARSE = 1.0  # mm/px of the whole-leg renders the crops are placed with

CASES = {  # name: anatomy priors forcing the case
    "adult": {},
    "child": {"child": 1.0},
    "varus-valgus": {"deformity": 1.0, "hka_max_deg": 25.0},
    "rotated": {"rotation_sd_deg": 15.0},
    "flexed": {"flexion": 1.0, "flexion_max_deg": 30.0},
}
SEEDS = (0, 1, 2)


def _legs(case: str, seed: int):
    anatomy = sample_anatomy(Draws(seed, 7), AnatomyPriors(**CASES[case]))
    return anatomy, list(anatomy.legs.values())


def _render(draw, leg: Leg, centre, half: float, spacing: float) -> tuple[np.ndarray, Grid]:
    n = round(2 * half / spacing)
    grid = Grid(centre[0] - half, centre[1] - half, spacing, (n, n))
    layer = np.zeros(grid.shape, np.float32)
    draw(layer, grid, leg)
    return layer, grid


def _points(mask: np.ndarray, grid: Grid) -> np.ndarray:
    """(x, y) mm of the mask's pixels."""
    rows, cols = np.nonzero(mask)
    return np.stack([grid.x0 + cols * grid.spacing, grid.y0 + rows * grid.spacing], axis=1)


def _fit_circle(p: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares (Kåsa) circle through points ``p`` (N, 2)."""
    a = np.column_stack([2 * p, np.ones(len(p))])
    b = (p**2).sum(axis=1)
    (cx, cy, c), *_ = np.linalg.lstsq(a, b, rcond=None)
    return np.array([cx, cy]), float(np.sqrt(c + cx * cx + cy * cy))


def _circle_of_outline(mask: np.ndarray, grid: Grid) -> tuple[np.ndarray, float]:
    """RANSAC circle on the outline of ``mask`` (the head's arc beats neck and trochanter
    edges), refined by a least-squares fit on its inliers."""
    edge = mask & ~ndimage.binary_erosion(mask)
    p = _points(edge, grid)
    rng = np.random.default_rng(0)
    best = (0, None)
    for _ in range(400):
        centre, r = _fit_circle(p[rng.choice(len(p), 3, replace=False)])
        if not 5.0 < r < 45.0:
            continue
        inliers = np.abs(np.hypot(*(p - centre).T) - r) < 0.4
        if inliers.sum() > best[0]:
            best = (int(inliers.sum()), inliers)
    return _fit_circle(p[best[1]])


def _tibial_axis(leg: Leg) -> np.ndarray:
    """Unit vector down the tibia, from the centroids of the rendered tibia at two levels."""
    mid = (leg.knee + leg.ankle) / 2
    half = float(np.linalg.norm(leg.ankle - leg.knee)) / 2 + 60
    tib, grid = _render(bones.tibia, leg, mid, half, COARSE)
    rows = np.flatnonzero(tib.max(axis=1) > 0.02)
    top, bottom = rows.min(), rows.max()
    cents = []
    for frac in (0.35, 0.65):
        r = round(top + frac * (bottom - top))
        cols = np.flatnonzero(tib[r] > 0.02)
        cents.append((grid.x0 + cols.mean() * COARSE, grid.y0 + r * COARSE))
    d = np.subtract(cents[1], cents[0])
    return d / np.linalg.norm(d), tib, grid


def _frame(d: np.ndarray, lateral: float):
    """Coordinates (u across, v down the tibial axis) of points, and back."""
    n = lateral * np.array([d[1], -d[0]])

    def to_uv(p):
        return np.stack([p @ n, p @ d], axis=-1)

    def to_xy(u, v):
        return u * n + v * d

    return to_uv, to_xy


def _envelope(uv: np.ndarray, top: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per u-bin (one fine pixel wide), the smallest (top) or largest v: (u, v) arrays."""
    idx = np.round(uv[:, 0] / FINE).astype(int)
    k0 = idx.min()
    out = np.full(idx.max() - k0 + 1, np.inf if top else -np.inf)
    (np.minimum if top else np.maximum).at(out, idx - k0, uv[:, 1])
    keep = np.isfinite(out)
    return (np.arange(len(out))[keep] + k0) * FINE, out[keep]


def measure_knee(leg: Leg) -> np.ndarray:
    d, tib_coarse, g = _tibial_axis(leg)
    to_uv, to_xy = _frame(d, leg.lateral)
    top_row = np.flatnonzero(tib_coarse.max(axis=1) > 0.02).min()
    cols = np.flatnonzero(tib_coarse[top_row + 3] > 0.02)
    around = np.array([g.x0 + cols.mean(), g.y0 + top_row + 3.0])  # near the tibial spines
    tib, grid = _render(bones.tibia, leg, around, 50.0, FINE)
    fem, _ = _render(bones.femur, leg, around, 50.0, FINE)
    t_uv = to_uv(_points(tib > 0.01, grid))
    f_uv = to_uv(_points(fem > 0.01, grid))
    us, vs = _envelope(t_uv, top=True)
    plateau = vs < np.quantile(vs, 0.5) + 15  # columns over the plateau
    u_lo, u_hi = us[plateau].min(), us[plateau].max()
    u_mid = (u_lo + u_hi) / 2
    half_w = (u_hi - u_lo) / 2
    tips = []
    for side in (-1, 1):
        sel = (side * (us - u_mid) > 0) & (side * (us - u_mid) < 0.35 * half_w)
        tips.append(us[sel][np.argmin(vs[sel])])
    u_knee = float(np.mean(tips))
    comp = (np.abs(us - u_knee) > 0.45 * half_w) & (np.abs(us - u_knee) < 0.7 * half_w)
    plateau_top = float(np.median(vs[comp]))
    fu, fv = _envelope(f_uv, top=False)
    condyles = np.abs(fu - u_knee) < 0.8 * half_w
    condyle_bottom = float(fv[condyles].max())
    return to_xy(u_knee, (plateau_top + condyle_bottom) / 2)


def _column_outline(uv: np.ndarray) -> np.ndarray:
    """Points (u, v) of a bone → a polygon (x = u, y = v, image-like, one FINE pixel per
    unit) through each column's top and bottom: the outline a reader would draw."""
    iu = np.round(uv[:, 0] / FINE).astype(int)
    cols = np.arange(iu.min(), iu.max() + 1)
    top = np.full(len(cols), np.inf)
    bottom = np.full(len(cols), -np.inf)
    np.minimum.at(top, iu - cols[0], uv[:, 1] / FINE)
    np.maximum.at(bottom, iu - cols[0], uv[:, 1] / FINE)
    keep = np.isfinite(top)
    cols, top, bottom = cols[keep], top[keep], bottom[keep]
    return np.concatenate(
        [np.stack([cols, top], 1), np.stack([cols[::-1], bottom[::-1]], 1)]
    ).astype(float)


def measure_ankle(leg: Leg, draw_tibia=bones.tibia) -> dict[str, np.ndarray | float]:
    """The ankle as the real films' truth was derived: the mid-plafond of the tibia's outline
    (lateral border ↔ medial malleolus's inner corner, in the tibial frame), half the
    measured joint space below the plafond; plus the talar dome's extent (u, mm)."""
    d, _, _ = _tibial_axis(leg)
    to_uv, to_xy = _frame(d, leg.lateral)
    mid = (leg.knee + leg.ankle) / 2
    half = float(np.linalg.norm(leg.ankle - leg.knee)) / 2 + 40
    tib, grid = _render(draw_tibia, leg, mid, half, FINE)
    t_uv = to_uv(_points(tib > 0.01, grid) - leg.ankle)
    a = plafond(_column_outline(t_uv))
    u_mid, v_plafond = a["mid_plafond"][0] * FINE, a["mid_plafond"][1] * FINE
    tal, tgrid = _render(ankle.talus, leg, leg.ankle, 45.0, FINE)
    a_uv = to_uv(_points(tal > 0.01, tgrid) - leg.ankle)
    dome_top = a_uv[:, 1].min()
    level = a_uv[np.abs(a_uv[:, 1] - (dome_top + 6.0)) < FINE / 2 + 1e-6]  # below the shoulders
    return {
        "ankle": leg.ankle + to_xy(u_mid, (dome_top + v_plafond) / 2),
        "u_mid": u_mid,
        "corner": a["malleolar_corner"][0] * FINE,
        "lateral": a["lateral"][0] * FINE,
        "dome": (level[:, 0].min(), level[:, 0].max()),
    }


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", SEEDS)
def test_femoral_head_centre_is_the_centre_of_the_fitted_circle(case, seed):
    _, legs = _legs(case, seed)
    for leg in legs:
        fem, grid = _render(bones.femur, leg, leg.hip, leg.head_radius + 25, FINE)
        centre, radius = _circle_of_outline(fem > 0.01, grid)
        assert np.hypot(*(centre - leg.hip)) < 0.5, (case, leg.side, centre, leg.hip)
        assert radius == pytest.approx(leg.head_radius, abs=0.5)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", SEEDS)
def test_knee_centre_is_between_the_tibial_spines_on_the_joint_line(case, seed):
    _, legs = _legs(case, seed)
    for leg in legs:
        measured = measure_knee(leg)
        assert np.hypot(*(measured - leg.knee)) < 1.0, (case, leg.side, measured, leg.knee)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", SEEDS)
def test_ankle_centre_is_the_mid_plafond_on_the_tibiotalar_joint_line(case, seed):
    _, legs = _legs(case, seed)
    for leg in legs:
        m = measure_ankle(leg)
        assert np.hypot(*(m["ankle"] - leg.ankle)) < 1.0, (case, leg.side, m, leg.ankle)
        assert abs(m["u_mid"]) < 0.5, (case, leg.side, m)  # sideways, as the real truth reads it
        # the dome fills the mortise: from the malleolus's inner corner (a ≤ 3 mm clear
        # space) to under the lateral border (which overhangs it by the tibial tubercle)
        lo, hi = sorted((m["corner"], m["lateral"]))
        dome = m["dome"]
        assert lo - 0.5 < dome[0] < lo + 3.5 and hi - 8.0 < dome[1] < hi + 0.5, (case, m)


@pytest.mark.parametrize("style", ["straight", "cemented", "bipolar", "resurfacing"])
def test_prosthetic_head_is_centred_on_the_hip_centre(style):
    """The landmark stays the anatomical head centre: the metal head (or cap) is on it."""
    draws = Draws(3, 1)
    anatomy = sample_anatomy(draws, AnatomyPriors())
    hw = sample_hardware(draws, HardwarePriors(hip_replacement=1.0, hip_styles=(style,)), anatomy)
    for leg in anatomy.legs.values():
        half = leg.head_radius + 25
        n = round(2 * half / FINE)
        grid = Grid(leg.hip[0] - half, leg.hip[1] - half, FINE, (n, n))
        maps = empty_maps(grid)
        render_hardware(maps, grid, anatomy, hw)
        metal = maps.occluder > 0.5
        centre, _ = _circle_of_outline(metal, grid)
        assert np.hypot(*(centre - leg.hip)) < 0.5, (style, leg.side, centre, leg.hip)
