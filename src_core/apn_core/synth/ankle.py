"""The ankle mortise and the foot, drawn so that the ankle landmark is where a reader of a
real standing AP film puts it, and the foot looks like a real one around it.

The mortise (:class:`~.anatomy.Mortise`, in the ankle frame: ``u`` lateral, ``v`` distal)
follows the real-film definition of :mod:`.definitions`: the ankle centre is midway between
the distal tibia's lateral border and the inner face of the medial malleolus, half a joint
space below the plafond; the talar dome's top is half a joint space below it and the dome
fills the mortise. Everything below the talus stands on the floor (``leg.floor_frame()``,
the sole ``leg.ankle_height`` below the joint line), whatever the tibia's tilt.

What a real film shows, and the first generator did not (``docs/ankle_investigation.md``):
the plafond's subchondral plate is a faint line, not the brightest edge of the leg; the
talus is a large bone below it; and the image only brightens 10–30 mm *below* the joint,
where the beam starts to run along the foot (hindfoot, tarsals and the foot's soft tissue),
down to the sole on the floor or a platform.
"""

from __future__ import annotations

import numpy as np

from apn_core.synth.anatomy import Frame, Leg
from apn_core.synth.projection import Grid, articular_surface, ellipsoid, tube
from apn_core.synth.solids import MU_CORTEX, MU_MARROW, MU_TRABECULAR, bone_ellipsoid, physis

FOOT_DEPTH_MM = 100.0  # half the foot's length along the beam (adult), soft tissue at the sole
HEEL_PAD_MM = 11.0  # soft tissue under the calcaneus
TROCHLEA_RADIUS_MM = 35.0  # the talar dome's radius front to back (adult, ≈ blurred by
# the dome's tilt and the film's blur; real domes are ~20 mm)
COS30 = float(np.sqrt(0.75))  # the medial malleolus's inner face at half its drop


def metaphysis(leg: Leg) -> tuple[float, float]:
    """``u`` of the distal metaphysis's axis and its half-width at the plafond: from the
    lateral border (``u = +p``) to the medial malleolus's outer face."""
    m = leg.mortise()
    half_width = m.plafond_half + (1 + COS30) * m.malleolus_half / 2
    return m.plafond_half - half_width, half_width


def distal_tibia(layer, grid: Grid, leg: Leg) -> None:
    """Distal metaphysis flaring to the plafond (its flat bottom half a joint space above the
    ankle centre, from the lateral border at ``u = +p`` to the medial malleolus), a faint
    subchondral plate, and the medial malleolus whose inner face is at ``u = −p``."""
    k, c = leg.k, leg.cortex
    af, m = leg.ankle_frame(), leg.mortise()
    ga, p, mr = leg.ankle_gap / 2, m.plafond_half, m.malleolus_half
    centre, half_width = metaphysis(leg)
    rs = 15.5 * k * leg.width * leg.j("tibia") * 0.95
    for v0, v1, r0, r1, wall in (
        (-ga - 45 * k, -ga - 18 * k, rs, half_width * 0.8, 2.5 * c),
        (-ga - 18 * k, -ga, half_width * 0.8, half_width, 1.6 * c),
    ):
        tube(
            layer,
            grid,
            af.at(centre, v0),
            af.at(centre, v1),
            r0,
            r1,
            MU_CORTEX,
            wall=wall,
            inner_weight=MU_TRABECULAR * 0.8,
            mode="max",
        )  # the last one flat-bottomed: the plafond, perpendicular to the axis
    ellipsoid(
        layer,
        grid,
        af.at(0, -ga - 0.8),
        (p * 0.97, 0.8),
        8 * k,
        MU_CORTEX * leg.plafond_plate,
        af.angle_deg,
    )  # subchondral plate: only its tangent rays cross it at length
    if leg.physes:
        frame = Frame.make(np.array(af.at(centre, 0)), af.down, leg.lateral)
        physis(layer, grid, frame, -ga - 12 * k, half_width * 0.95, 24 * k)
    # the medial malleolus: a lower half-ellipse from the plafond to its tip whose inner face
    # crosses u = −p halfway down (where a reader finds the mortise's corner)
    bone_ellipsoid(
        layer,
        grid,
        af.at(-p - COS30 * mr, -ga),
        (mr, m.malleolus_tip + ga),
        11 * k,
        1.3 * c,
        af.angle_deg,
        half=tuple(af.down),
        mode="max",
    )


def lateral_malleolus(leg: Leg, shift: float) -> tuple[np.ndarray, tuple[float, float]]:
    """Centre and semi-axes of the lateral malleolus: beside the talus (its inner face at
    the mortise's ``fibula_face``, moved by half the fibula's ``shift``), tip 20–28 mm below
    the joint line."""
    k, jm = leg.k, leg.j("malleolus")
    m = leg.mortise()
    a, b = 7.5 * k * jm, 18 * k * jm
    centre = leg.ankle_frame().at(m.fibula_face + a + shift * 0.5, leg.ankle_gap / 2 + 6 * k * jm)
    return np.array(centre), (a, b)


def talus(layer, grid: Grid, leg: Leg) -> None:
    """The talus: a trochlea whose top is half a joint space below the ankle centre and which
    fills the mortise (curved front to back, so it brightens gradually below its top), a
    body down to the subtalar joint ~30 mm below, its lateral process under the fibula and
    its neck and head running forward (medially on the image)."""
    k, jt = leg.k, leg.j("talus")
    af, m = leg.ankle_frame(), leg.mortise()
    ga, tw, uc = leg.ankle_gap / 2, m.dome_half, m.dome_centre
    radius, depth = TROCHLEA_RADIUS_MM * k * jt, 26 * k * jt
    top = af.at(uc, ga)
    trabecular = MU_TRABECULAR * leg.talus_density
    trochlea = radius - np.sqrt(max(radius**2 - depth**2, 0.0))  # where the chord is full
    shoulder = 5.0 * k
    articular_surface(
        layer,
        grid,
        top,
        tw,
        radius,
        depth,
        trochlea,
        trabecular,
        af.angle_deg,
        mode="max",
        shoulder=shoulder,
    )  # trochlea: its chord grows from the top to the body's depth
    articular_surface(
        layer,
        grid,
        top,
        tw,
        radius,
        depth,
        1.2,
        MU_CORTEX * leg.plafond_plate,
        af.angle_deg,
        shoulder=shoulder,
    )  # its subchondral plate
    for centre, axes, semi_depth, half in (
        ((uc, ga + trochlea), (0.97 * tw, 15 * k * jt), depth, af.down),  # body
        ((uc + 0.8 * tw, ga + 20 * k), (6 * k, 8 * k), 10 * k, None),  # lateral process
        ((uc - 7 * k, ga + 26 * k), (12 * k, 9 * k), 16 * k, None),  # neck and head
    ):
        ellipsoid(
            layer,
            grid,
            af.at(*centre),
            axes,
            semi_depth,
            trabecular,
            af.angle_deg,
            mode="max",
            half=None if half is None else tuple(half),
        )


def plafond_lips(layer, grid: Grid, leg: Leg) -> None:
    """The plafond's anterior and posterior margins: the plafond is concave front to back
    (concentric with the trochlea), so below its apex a ray still crosses the lips, less and
    less — the joint space is never an empty band on an AP film. They hang below the
    plafond's outline (the apex line a reader traces) and are drawn apart from it."""
    k = leg.k
    af, m = leg.ankle_frame(), leg.mortise()
    ga = leg.ankle_gap / 2
    radius = TROCHLEA_RADIUS_MM * k * leg.j("talus") + leg.ankle_gap
    depth = metaphysis(leg)[1]  # the metaphysis's depth along the beam at the plafond
    articular_surface(
        layer,
        grid,
        af.at(0, -ga),
        m.plafond_half * 0.97,
        radius,
        depth,
        leg.lips,
        MU_TRABECULAR,
        af.angle_deg,
        concave=True,
    )


def _offset(leg: Leg, name: str, mm_per_sd: float) -> float:
    """A per-leg position offset (mm at adult size) from the leg's shape jitter ``name``."""
    return (leg.j(name) - 1.0) * mm_per_sd


CALCANEUS_U = {"ap": 6.0, "oblique": 12.0, "plantar": 4.0, "minimal": 5.0}
# (u, height above the sole, semi-axes) of navicular, cuneiforms and cuboid, adult mm
TARSALS = (
    (-13.0, 40.0, 12.0, 7.0),
    (-14.0, 30.0, 7.0, 8.0),
    (-4.0, 33.0, 6.0, 6.0),
    (5.0, 32.0, 6.0, 6.0),
    (15.0, 24.0, 9.0, 8.0),
)


def foot(layer, grid: Grid, leg: Leg) -> None:
    """Calcaneus on its heel pad above the sole, tarsals and the foreshortened metatarsals and
    toes near the floor, in one of several styles (``leg.foot``)."""
    k, c, style = leg.k, leg.cortex, leg.foot
    ff, sole = leg.floor_frame(), leg.ankle_height
    jc, jm = leg.j("calcaneus"), leg.j("metatarsal")
    size = 1.15 if style == "plantar" else 1.0
    a, b = 19 * k * jc * size, 20 * k * jc * size
    cu = (CALCANEUS_U[style] + _offset(leg, "foot_u", 150.0)) * k
    cv = sole - HEEL_PAD_MM * k - b + _offset(leg, "foot_v", 50.0) * k
    bone_ellipsoid(
        layer, grid, ff.at(cu, cv), (a, b), 34 * k, 0.5 * c, ff.angle_deg + 8, dense=1.1
    )  # calcaneus: long along the beam, so bright on an AP film
    ellipsoid(
        layer,
        grid,
        ff.at(cu - a * 0.9, cv - b * 0.45),
        (8 * k, 6 * k),
        12 * k,
        MU_TRABECULAR * 1.3,
        ff.angle_deg,
    )  # sustentaculum tali
    if style == "minimal":
        return
    for u, height, ax, bx in TARSALS:
        bone_ellipsoid(
            layer,
            grid,
            ff.at(u * k, sole - height * k),
            (ax * k * size, bx * k * size),
            13 * k,
            0.5 * c,
            ff.angle_deg,
        )
    fan = {"ap": 4.0, "oblique": 9.0, "plantar": 3.0}[style]
    shift = 10.0 if style == "oblique" else 0.0
    start, stop = (
        (sole - 28 * k, sole - 10 * k) if style != "plantar" else (sole - 20 * k, sole - 10 * k)
    )
    for toe in range(5):  # metatarsals, foreshortened; the first is medial
        u0 = ((toe - 2) * 9 - 12 + shift) * k * jm
        u1 = u0 + (toe - 2 + shift / 5) * fan * k
        p0, p1 = ff.at(u0, start), ff.at(u1, stop)
        r = (4.5 if toe == 0 else 3.5) * k
        tube(layer, grid, p0, p1, r, r * 0.85, MU_CORTEX, wall=1.4 * c, inner_weight=MU_MARROW)
        if style != "plantar":  # phalanges, end-on towards the tube
            p2 = ff.at(u1 + (toe - 2) * k, sole - 4 * k)
            tube(
                layer,
                grid,
                p1,
                p2,
                r * 0.7,
                r * 0.6,
                MU_CORTEX,
                wall=1.0 * c,
                inner_weight=MU_MARROW,
            )


def foot_soft_tissue(layer, grid: Grid, leg: Leg) -> None:
    """Soft tissue (mm of path) below the ankle: the heel down to the sole, and the foot seen
    end-on — a half-ellipsoid standing on the sole whose path grows from nothing where the
    dorsum leaves the leg (``foot_top`` below the joint line) to the foot's length at the
    floor. Max-combined with the leg's soft tissue."""
    k = leg.k
    ff, sole = leg.floor_frame(), leg.ankle_height
    oblique = leg.foot == "oblique"
    tube(
        layer, grid, tuple(leg.ankle), ff.at(3 * k, sole), 30 * k, 36 * k, mode="max"
    )  # ankle and heel
    height = max(sole - leg.foot_top, 5.0)
    ellipsoid(
        layer,
        grid,
        ff.at((14.0 if oblique else 6.0) * k, sole),
        ((50.0 if oblique else 44.0) * k, height),
        FOOT_DEPTH_MM * k,
        angle_deg=ff.angle_deg,
        mode="max",
        half=tuple(-ff.down),
    )
