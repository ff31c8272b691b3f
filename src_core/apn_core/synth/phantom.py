"""Anatomy → attenuation maps (μ·t, dimensionless) on the detector grid.

Bones are cortical shells around trabecular/marrow cores, so shafts show the bright
double line of real cortices. Soft tissue is a union of limbs (max of chords, not sum).
Attenuation coefficients are per mm at ~60 keV effective energy, bone values in excess
of the soft tissue they displace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apn_core.synth.anatomy import Anatomy, Leg
from apn_core.synth.projection import Grid, ellipsoid, polygon_plate, shell, tube

MU_SOFT = 0.018
MU_CORTEX = 0.045
MU_TRABECULAR = 0.013
MU_MARROW = 0.004
MU_METAL = 0.9
MU_LEAD = 6.0


@dataclass
class Implants:
    """Which occluders a case has."""

    hip: tuple[str, ...] = ()  # sides with a hip prosthesis
    knee: tuple[str, ...] = ()  # sides with a knee prosthesis
    shield: tuple[float, float, float] | None = None  # (x offset mm, y offset mm, size factor)


@dataclass
class AttenuationMaps:
    soft: np.ndarray  # soft-tissue thickness (mm)
    bone: np.ndarray  # μ·t of bone in excess of soft tissue
    occluder: np.ndarray  # μ·t of metal and lead (implants, shields, ruler)

    def total(self) -> np.ndarray:
        return MU_SOFT * self.soft + self.bone + self.occluder


def render_phantom(
    anatomy: Anatomy, implants: Implants, grid: Grid, rng: np.random.Generator
) -> AttenuationMaps:
    """Evaluate every structure of the case on ``grid``."""
    maps = AttenuationMaps(*(np.zeros(grid.shape, np.float32) for _ in range(3)))
    _soft_tissue(maps.soft, grid, anatomy)
    _pelvis(maps.bone, grid, anatomy)
    for leg in anatomy.legs.values():
        _femur(maps.bone, grid, leg, anatomy.scale)
        _knee(maps.bone, grid, leg, anatomy.scale)
        _lower_leg(maps.bone, grid, leg, anatomy.scale)
        _foot(maps.bone, grid, leg, anatomy.scale)
        if leg.side in implants.hip:
            _hip_prosthesis(maps.occluder, grid, leg, anatomy.scale)
        if leg.side in implants.knee:
            _knee_prosthesis(maps.occluder, grid, leg, anatomy.scale)
    if implants.shield is not None:
        _gonad_shield(maps.occluder, grid, anatomy, implants.shield)
    return maps


def _neck_dir(leg: Leg) -> np.ndarray:
    """Unit vector from the head centre along the femoral neck (lateral and down)."""
    below = np.deg2rad(leg.neck_angle_deg - 90.0)  # neck-shaft angle 130° → 40° below horizontal
    return np.array([leg.lateral * np.cos(below), np.sin(below)])


def _soft_tissue(layer, grid, a: Anatomy) -> None:
    k, st = a.scale, a.soft_tissue
    hips = [leg.hip for leg in a.legs.values()]
    centre = (float(np.mean([h[0] for h in hips])), float(np.mean([h[1] for h in hips])) - 40 * k)
    half_width = abs(hips[1][0] - hips[0][0]) / 2 + 95 * k * st
    ellipsoid(layer, grid, centre, (half_width, 170 * k), 110 * k * st, mode="max")
    for leg in a.legs.values():
        lat = leg.lateral
        top = leg.hip + np.array([lat * 25 * k, -30 * k])
        tube(
            layer,
            grid,
            tuple(top),
            tuple(leg.knee),
            85 * k * st,
            52 * k * st,
            mode="max",
            rounded=True,
        )
        calf = leg.knee + 0.35 * (leg.ankle - leg.knee)
        tube(
            layer,
            grid,
            tuple(leg.knee),
            tuple(calf),
            52 * k * st,
            58 * k * st,
            mode="max",
            rounded=True,
        )
        tube(
            layer,
            grid,
            tuple(calf),
            tuple(leg.ankle),
            58 * k * st,
            30 * k,
            mode="max",
            rounded=True,
        )
        ellipsoid(
            layer,
            grid,
            tuple(leg.ankle + np.array([0, 45 * k])),
            (45 * k, 60 * k),
            70 * k,
            mode="max",
        )


def _pelvis(layer, grid, a: Anatomy) -> None:
    k = a.scale
    r, lft = a.legs["right"].hip, a.legs["left"].hip
    mid = (r + lft) / 2
    tilt = a.pelvic_tilt_deg
    up = np.array([np.sin(np.deg2rad(tilt)), -np.cos(np.deg2rad(tilt))])  # pelvis "up"
    across = np.array([np.cos(np.deg2rad(tilt)), np.sin(np.deg2rad(tilt))])

    def at(u: float, v: float) -> tuple[float, float]:
        return tuple(mid + across * u * k + up * v * k)

    ellipsoid(layer, grid, at(0, 95), (48 * k, 62 * k), 30 * k, MU_TRABECULAR * 2, tilt)  # sacrum
    ellipsoid(layer, grid, at(0, 185), (28 * k, 17 * k), 20 * k, MU_TRABECULAR * 2, tilt)  # L5 body
    for side in (-1, 1):
        shell(
            layer,
            grid,
            at(side * 105, 95),
            (78 * k, 62 * k),
            9 * k,
            2.0,
            MU_CORTEX,
            tilt + side * 25,
        )
        ellipsoid(
            layer,
            grid,
            at(side * 105, 95),
            (74 * k, 58 * k),
            6 * k,
            MU_TRABECULAR,
            tilt + side * 25,
        )
        hip = r if side < 0 else lft
        roof = hip + up * 4 * k
        shell(layer, grid, tuple(roof), (30 * k, 30 * k), 22 * k, 4.0, MU_CORTEX, half=tuple(up))
        tube(
            layer,
            grid,
            tuple(hip + up * 30 * k - across * side * 10 * k),
            tuple(roof),
            16 * k,
            18 * k,
            MU_CORTEX,
            wall=4.0,
            inner_weight=MU_TRABECULAR,
        )
        symphysis = at(side * 8, -58)
        tube(
            layer,
            grid,
            tuple(hip - up * 14 * k - across * side * 18 * k),
            symphysis,
            9 * k,
            8 * k,
            MU_CORTEX,
            wall=3.0,
            inner_weight=MU_TRABECULAR,
        )  # superior pubic ramus
        ischium = at(side * 55, -95)
        tube(
            layer,
            grid,
            tuple(hip - up * 25 * k),
            ischium,
            14 * k,
            12 * k,
            MU_CORTEX,
            wall=3.5,
            inner_weight=MU_TRABECULAR,
        )
        tube(
            layer,
            grid,
            ischium,
            at(side * 14, -72),
            8 * k,
            7 * k,
            MU_CORTEX,
            wall=3.0,
            inner_weight=MU_TRABECULAR,
        )  # inferior ramus


def _femur(layer, grid, leg: Leg, k: float) -> None:
    lat, rh = leg.lateral, leg.head_radius
    neck = _neck_dir(leg)
    base = leg.hip + neck * 48 * k
    shell(layer, grid, tuple(leg.hip), (rh, rh), rh, 2.0, MU_CORTEX)
    ellipsoid(layer, grid, tuple(leg.hip), (rh - 2, rh - 2), rh - 2, MU_TRABECULAR)
    tube(
        layer,
        grid,
        tuple(leg.hip),
        tuple(base),
        15 * k,
        17 * k,
        MU_CORTEX,
        wall=3.0,
        inner_weight=MU_TRABECULAR,
    )
    ellipsoid(
        layer,
        grid,
        tuple(base + np.array([lat * 12 * k, -12 * k])),
        (17 * k, 24 * k),
        18 * k,
        MU_TRABECULAR * 1.6,
        angle_deg=lat * 10,
    )  # greater trochanter
    ellipsoid(
        layer,
        grid,
        tuple(base + np.array([-lat * 16 * k, 34 * k])),
        (8 * k, 11 * k),
        9 * k,
        MU_CORTEX * 0.8,
    )  # lesser trochanter
    distal = leg.knee + np.array([0.0, -80 * k])
    mid = base + 0.45 * (distal - base) + np.array([lat * 3 * k, 0])
    tube(
        layer,
        grid,
        tuple(base),
        tuple(mid),
        17 * k,
        13.5 * k,
        MU_CORTEX,
        wall=6.0 * k,
        inner_weight=MU_MARROW,
    )
    tube(
        layer,
        grid,
        tuple(mid),
        tuple(distal),
        13.5 * k,
        20 * k,
        MU_CORTEX,
        wall=5.0 * k,
        inner_weight=MU_MARROW,
    )


def _knee(layer, grid, leg: Leg, k: float) -> None:
    lat, knee = leg.lateral, leg.knee
    ellipsoid(
        layer, grid, tuple(knee + np.array([0, -38 * k])), (36 * k, 30 * k), 24 * k, MU_TRABECULAR
    )
    for side in (-1, 1):
        c = knee + np.array([side * 19 * k, -3 - 19 * k])
        shell(layer, grid, tuple(c), (21 * k, 19 * k), 26 * k, 2.0, MU_CORTEX)
        ellipsoid(layer, grid, tuple(c), (19 * k, 17 * k), 24 * k, MU_TRABECULAR)
    ellipsoid(
        layer,
        grid,
        tuple(knee + np.array([lat * 4 * k, -34 * k])),
        (21 * k, 25 * k),
        10 * k,
        MU_TRABECULAR * 1.5,
    )  # patella
    plateau = knee + np.array([0, 3 + 13 * k])
    shell(layer, grid, tuple(plateau), (40 * k, 13 * k), 30 * k, 2.0, MU_CORTEX, half=(0.0, 1.0))
    ellipsoid(
        layer, grid, tuple(plateau + np.array([0, 18 * k])), (36 * k, 30 * k), 28 * k, MU_TRABECULAR
    )
    for side in (-1, 1):  # tibial spines point into the notch at the joint centre
        ellipsoid(
            layer,
            grid,
            tuple(knee + np.array([side * 5 * k, 4])),
            (3.5 * k, 6 * k),
            8 * k,
            MU_CORTEX,
        )


def _lower_leg(layer, grid, leg: Leg, k: float) -> None:
    lat, knee, ankle = leg.lateral, leg.knee, leg.ankle
    t = (ankle - knee) / np.linalg.norm(ankle - knee)
    top, bottom = knee + t * 45 * k, ankle - t * 40 * k
    tube(
        layer,
        grid,
        tuple(top),
        tuple(bottom),
        15 * k,
        11 * k,
        MU_CORTEX,
        wall=5.0 * k,
        inner_weight=MU_MARROW,
    )
    ellipsoid(
        layer,
        grid,
        tuple(ankle + np.array([0, -2 - 22 * k])),
        (23 * k, 22 * k),
        22 * k,
        MU_TRABECULAR * 1.4,
    )
    ellipsoid(
        layer,
        grid,
        tuple(ankle + np.array([-lat * 21 * k, 4 * k])),
        (7 * k, 15 * k),
        13 * k,
        MU_CORTEX * 0.9,
    )  # medial malleolus
    head = knee + np.array([lat * 31 * k, 30 * k])
    malleolus = ankle + np.array([lat * 25 * k, 6 * k])
    ellipsoid(layer, grid, tuple(head), (10 * k, 10 * k), 11 * k, MU_CORTEX * 0.7)
    tube(
        layer,
        grid,
        tuple(head),
        tuple(malleolus - np.array([0, 20 * k])),
        6 * k,
        5.5 * k,
        MU_CORTEX,
        wall=2.5 * k,
        inner_weight=MU_MARROW,
    )  # fibula
    ellipsoid(layer, grid, tuple(malleolus), (8.5 * k, 18 * k), 12 * k, MU_CORTEX * 0.9)


def _foot(layer, grid, leg: Leg, k: float) -> None:
    lat, ankle = leg.lateral, leg.ankle
    shell(
        layer,
        grid,
        tuple(ankle + np.array([0, 2 + 15 * k])),
        (22 * k, 15 * k),
        28 * k,
        2.0,
        MU_CORTEX,
    )
    ellipsoid(
        layer,
        grid,
        tuple(ankle + np.array([0, 2 + 15 * k])),
        (20 * k, 13 * k),
        26 * k,
        MU_TRABECULAR,
    )
    ellipsoid(
        layer,
        grid,
        tuple(ankle + np.array([lat * 6 * k, 48 * k])),
        (26 * k, 22 * k),
        30 * k,
        MU_TRABECULAR * 1.2,
    )  # calcaneus seen end-on
    for toe in range(5):  # metatarsals, foreshortened
        x0 = ankle[0] + (toe - 2) * 9 * k - lat * 12 * k
        tube(
            layer,
            grid,
            (x0, ankle[1] + 40 * k),
            (x0 - lat * (toe - 2) * 4 * k, ankle[1] + 78 * k),
            3.5 * k,
            3 * k,
            MU_CORTEX,
            wall=1.5,
            inner_weight=MU_MARROW,
        )


def _hip_prosthesis(layer, grid, leg: Leg, k: float) -> None:
    """Metal head on the femoral head centre, acetabular cup, neck and stem in the shaft."""
    rh, neck = leg.head_radius, _neck_dir(leg)
    base = leg.hip + neck * 48 * k
    ellipsoid(layer, grid, tuple(leg.hip), (rh * 0.95, rh * 0.95), rh * 0.95, MU_METAL)
    shell(
        layer,
        grid,
        tuple(leg.hip),
        (rh + 5, rh + 5),
        rh + 5,
        3.0,
        MU_METAL,
        half=(leg.lateral * 0.3, -1.0),
    )
    tube(layer, grid, tuple(leg.hip + neck * rh * 0.5), tuple(base), 6 * k, 8 * k, MU_METAL)
    tip = base + (leg.knee - base) * 0.33
    tube(layer, grid, tuple(base), tuple(tip), 9 * k, 5 * k, MU_METAL)


def _knee_prosthesis(layer, grid, leg: Leg, k: float) -> None:
    """Femoral component over the condyles and a tibial tray with its stem."""
    knee = leg.knee
    shell(
        layer,
        grid,
        tuple(knee + np.array([0, -3 - 21 * k])),
        (42 * k, 24 * k),
        28 * k,
        3.0,
        MU_METAL,
        half=(0.0, 1.0),
    )
    tray = knee + np.array([0, 9])
    ellipsoid(layer, grid, tuple(tray), (38 * k, 2.5), 30 * k, MU_METAL)
    tube(layer, grid, tuple(tray), tuple(tray + np.array([0, 45 * k])), 7 * k, 5 * k, MU_METAL)


def _gonad_shield(layer, grid, a: Anatomy, shield: tuple[float, float, float]) -> None:
    """A lead shield, a rounded triangle over the pelvis, possibly off-centre."""
    dx, dy, size = shield
    hips = np.array([leg.hip for leg in a.legs.values()])
    c = hips.mean(axis=0) + np.array([dx, dy])
    w, h = 38 * a.scale * size, 44 * a.scale * size
    theta = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    radius = 1.0 + 0.3 * np.sin(theta) * np.abs(np.cos(theta))  # rounded shield, pointed below
    pts = c + np.stack([w * radius * np.cos(theta), h * radius * np.sin(theta) * 0.8], axis=1)
    polygon_plate(layer, grid, pts, 0.5, MU_LEAD)
