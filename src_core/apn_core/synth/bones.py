"""The bones of one leg and the pelvis as analytic solids, drawn around the landmarks.

Every joint is drawn in its :class:`~.anatomy.Frame` so that the landmark definitions of
:mod:`.definitions` hold exactly on what is rendered, whatever the size, deformity,
rotation or flexion: the femoral head is a sphere on the hip centre; the condyles, the
plateau and the tibial spines sit symmetrically about the knee centre on the joint line;
the ankle mortise and the foot are :mod:`.ankle`'s.

Values are μ·t (dimensionless) of bone in excess of the soft tissue it displaces; each
function adds into ``layer`` (a float32 map on ``grid``). Functions are public so tests can
render one bone alone and measure it.
"""

from __future__ import annotations

import numpy as np

from apn_core.synth import ankle
from apn_core.synth.anatomy import Anatomy, Frame, Leg
from apn_core.synth.projection import Grid, arc, ellipsoid, shell, tube
from apn_core.synth.solids import (
    MU_CORTEX,
    MU_MARROW,
    MU_TRABECULAR,
    bone_ellipsoid,
    physis,
)

POSTERIOR_SLOPE_DEG = 7.0  # tibial plateau slope: its rims separate on the AP view


def neck_direction(leg: Leg) -> tuple[np.ndarray, float]:
    """Unit vector (image plane) from the head centre along the neck, and the neck's projected
    length. The neck leaves the shaft at the neck-shaft angle and points forward by the
    anteversion; internal rotation brings it into the image plane (longest neck)."""
    ff = leg.femur_frame()
    below = np.deg2rad(leg.neck_angle_deg - 90.0)
    forward = np.deg2rad(leg.anteversion_deg - leg.rotation_deg)
    u, v = np.cos(below) * np.cos(forward), np.sin(below)
    norm = float(np.hypot(u, v))
    direction = (u * ff.lat + v * ff.down) / norm
    return direction, leg.neck_length * leg.j("neck") * norm


def femur(layer, grid: Grid, leg: Leg, head: bool = True, cut: float | None = None) -> None:
    """Head (a sphere on the hip centre), neck, trochanters, shaft, metaphysis, condyles.

    ``head=False`` leaves the head out (resected for a hip replacement); ``cut`` ends the
    femur ``cut`` mm below the hip centre (transfemoral amputation).
    """
    k, w, c = leg.k, leg.width, leg.cortex
    rh = leg.head_radius
    ff, kf = leg.femur_frame(), leg.knee_frame()
    ndir, nlen = neck_direction(leg)
    base = leg.hip + ndir * nlen
    if head:
        bone_ellipsoid(layer, grid, tuple(leg.hip), (rh, rh), rh, 1.6 * c)
    neck_start = leg.hip + ndir * rh * (0.85 if leg.physes else 0.55)
    if leg.physes:  # the capital physis: a lucent gap between the head and the neck
        neck_start = neck_start + ndir * 2.0
    rn = 14.0 * k * w * leg.j("neck")
    tube(
        layer,
        grid,
        tuple(neck_start),
        tuple(base),
        rn,
        rn * 1.2,
        MU_CORTEX,
        wall=2.5 * c,
        inner_weight=MU_TRABECULAR,
    )
    bf = Frame.make(base, ff.down, leg.lateral)
    jt = leg.j("trochanter")
    ellipsoid(
        layer,
        grid,
        bf.at(13 * k * jt, -10 * k),
        (16 * k * jt, 24 * k * jt),
        18 * k,
        MU_TRABECULAR * 1.6,
        bf.angle_deg + leg.lateral * 10,
    )  # greater trochanter
    lesser_u = -17 * k + leg.rotation_shift(-18 * k)
    ellipsoid(
        layer,
        grid,
        bf.at(lesser_u, 36 * k),
        (8 * k * jt, 11 * k * jt),
        9 * k,
        MU_CORTEX * 0.8,
        bf.angle_deg,
    )  # lesser trochanter
    # shaft along the anatomical axis, from below the trochanters into the distal metaphysis
    notch = 22.0 * k * leg.j("notch")  # notch roof above the condyles' lowest points
    meta_half = 34.0 * k * w
    roof = np.array(kf.at(0.0, -leg.knee_gap / 2 - notch))  # the notch roof
    top = np.array(bf.at(4 * k, 8 * k))
    axis = roof - top
    length = float(np.linalg.norm(axis))
    rs = 15.0 * k * w * leg.j("shaft")
    wall = 5.5 * k * c
    if cut is not None:
        length_to_cut = max(cut - float(np.dot(top - leg.hip, ff.down)), 20.0)
        end = top + axis / length * min(length_to_cut, length)
        tube(
            layer,
            grid,
            tuple(top),
            tuple(end),
            rs * 1.1,
            rs * 0.9,
            MU_CORTEX,
            wall=wall,
            inner_weight=MU_MARROW,
        )
        return
    mid = top + 0.45 * axis + ff.lat * 3 * k  # a slight lateral bow
    meta = roof - axis / length * 75 * k
    tube(
        layer,
        grid,
        tuple(top),
        tuple(mid),
        rs * 1.12,
        rs * 0.9,
        MU_CORTEX,
        wall=wall,
        inner_weight=MU_MARROW,
    )
    tube(
        layer,
        grid,
        tuple(mid),
        tuple(meta),
        rs * 0.9,
        rs * 1.05,
        MU_CORTEX,
        wall=wall,
        inner_weight=MU_MARROW,
    )
    tube(
        layer,
        grid,
        tuple(meta),
        tuple(roof),
        rs * 1.05,
        meta_half,
        MU_CORTEX,
        wall=1.8 * c,
        inner_weight=MU_TRABECULAR,
        mode="max",
    )  # the flared distal metaphysis
    condyles(layer, grid, leg)
    if leg.physes:
        physis(layer, grid, kf, -leg.knee_gap / 2 - notch - 4 * k, meta_half, 30 * k)


def condyles(layer, grid: Grid, leg: Leg) -> None:
    """Two femoral condyles whose lowest points lie half a joint space above the knee joint
    line, with the intercondylar notch between them centred on the knee centre."""
    k, w, c = leg.k, leg.width, leg.cortex
    kf = leg.knee_frame()
    jc = leg.j("condyle")
    a, b = 17.0 * k * w * jc, 20.0 * k * jc
    centre_u = (a + 2.0 * k * leg.j("notch")) * leg.rotation_cos
    a *= leg.rotation_cos**0.5
    for s in (-1.0, 1.0):
        bone_ellipsoid(
            layer,
            grid,
            kf.at(s * centre_u, -leg.knee_gap / 2 - b),
            (a, b),
            34 * k,
            1.6 * c,
            kf.angle_deg,
            half=tuple(kf.down),
            mode="max",
        )
        ellipsoid(
            layer,
            grid,
            kf.at(s * centre_u, -leg.knee_gap / 2 - b),
            (a, b),
            34 * k,
            MU_TRABECULAR,
            kf.angle_deg,
            half=tuple(-kf.down),
            mode="max",
        )


def patella(layer, grid: Grid, leg: Leg) -> None:
    """The patella over the distal femur: higher or lower (alta/baja), shifted, lower when
    the knee is flexed, and moved medially by internal rotation (it is anterior)."""
    k, jp = leg.k, leg.j("patella")
    kf = leg.knee_frame()
    u = leg.patella_dx + leg.rotation_shift(45 * k)
    v = -34 * k - leg.patella_dy + 0.8 * leg.flexion_deg * k
    bone_ellipsoid(
        layer,
        grid,
        kf.at(u, v),
        (21 * k * jp, 25 * k * jp),
        11 * k,
        1.2 * leg.cortex,
        kf.angle_deg,
        dense=1.4,
    )


def tibia(layer, grid: Grid, leg: Leg, cut: float | None = None, spines: bool = True) -> None:
    """Plateau (its top half a joint space below the knee centre), the two tibial spines
    straddling the knee centre, shaft, and the distal tibia of :func:`.ankle.distal_tibia`
    (plafond and medial malleolus). ``cut``: transtibial amputation
    ``cut`` mm below the knee joint line; ``spines=False`` after a knee replacement."""
    k, w, c = leg.k, leg.width, leg.cortex
    kf, af = leg.knee_frame(), leg.ankle_frame()
    g = leg.knee_gap / 2
    pw = 38.0 * k * w * leg.j("plateau") * leg.rotation_cos
    rs = 15.5 * k * w * leg.j("tibia")
    neck = kf.at(0, g + 22 * k)
    tube(
        layer,
        grid,
        kf.at(0, g),
        neck,
        pw,
        pw * 0.72,
        MU_CORTEX,
        wall=1.8 * c,
        inner_weight=MU_TRABECULAR * 0.8,
        mode="max",
    )  # flat-topped proximal metaphysis
    tube(
        layer,
        grid,
        neck,
        kf.at(0, g + 65 * k),
        pw * 0.72,
        rs,
        MU_CORTEX,
        wall=2.5 * c,
        inner_weight=MU_TRABECULAR * 0.8,
        mode="max",
    )
    slope = np.deg2rad(POSTERIOR_SLOPE_DEG + leg.flexion_deg / 2)
    rim = max(0.6, 22.0 * k * abs(float(np.sin(slope)))) / 2  # the rims' separation / 2
    shell(
        layer,
        grid,
        kf.at(0, g + rim),
        (pw * 0.96, rim + 0.01),
        28 * k,
        0.9,
        MU_CORTEX * 1.3,
        kf.angle_deg,
    )  # subchondral plate: anterior and posterior rims
    spine_gap = 5.5 * k * leg.j("spine") * leg.rotation_cos
    height, sa, sb = 8.0 * k * leg.j("spine"), 3.6 * k, 8.0 * k
    if spines:  # the eminence, lower than the two spine tips that straddle the knee centre
        ellipsoid(
            layer,
            grid,
            kf.at(0, g),
            (spine_gap + 5 * k, 0.45 * height),
            14 * k,
            MU_TRABECULAR * 2.0,
            kf.angle_deg,
            mode="max",
        )
    for s in (-1.0, 1.0) if spines else ():  # tips at (±gap, g − height): midpoint = knee centre
        ellipsoid(
            layer,
            grid,
            kf.at(s * spine_gap, g - height + sb),
            (sa, sb),
            10 * k,
            MU_CORTEX * 0.8,
            kf.angle_deg,
            mode="max",
        )
    ellipsoid(
        layer,
        grid,
        kf.at(6 * k + leg.rotation_shift(30 * k), g + 38 * k),
        (9 * k, 14 * k),
        8 * k,
        MU_TRABECULAR * 0.6,
        kf.angle_deg,
    )  # tibial tuberosity
    if leg.physes:
        physis(layer, grid, kf, g + 14 * k, pw * 0.95, 28 * k)
    top = np.array(kf.at(0, g + 55 * k))
    bottom = np.array(af.at(ankle.metaphysis(leg)[0], -leg.ankle_gap / 2 - 40 * k))
    if cut is not None:
        end = np.array(kf.at(0, max(cut, 50 * k)))
        tube(
            layer,
            grid,
            tuple(top),
            tuple(end),
            rs,
            rs * 0.85,
            MU_CORTEX,
            wall=5 * k * c,
            inner_weight=MU_MARROW,
        )
        return
    mid = top + 0.55 * (bottom - top)
    tube(
        layer,
        grid,
        tuple(top),
        tuple(mid),
        rs,
        rs * 0.72,
        MU_CORTEX,
        wall=5 * k * c,
        inner_weight=MU_MARROW,
    )
    tube(
        layer,
        grid,
        tuple(mid),
        tuple(bottom),
        rs * 0.72,
        rs * 0.95,
        MU_CORTEX,
        wall=4 * k * c,
        inner_weight=MU_MARROW,
    )
    ankle.distal_tibia(layer, grid, leg)


def fibula(layer, grid: Grid, leg: Leg, cut: float | None = None) -> None:
    """Fibular head below the lateral plateau, shaft, lateral malleolus below the ankle joint
    line. ``fibula_overlap`` and rotation (it is posterior) move it across the tibia."""
    k, c = leg.k, leg.cortex
    kf, af = leg.knee_frame(), leg.ankle_frame()
    shift = -leg.fibula_overlap + leg.rotation_shift(-25 * k)
    jf = leg.j("fibula")
    head = np.array(kf.at(31 * k * leg.width + shift, leg.knee_gap / 2 + 24 * k))
    ellipsoid(layer, grid, tuple(head), (10 * k * jf, 10 * k * jf), 11 * k, MU_CORTEX * 0.7)
    mall, axes = ankle.lateral_malleolus(leg, shift)
    end = mall - af.down * 6 * k
    if cut is not None:
        end = np.array(kf.at(31 * k * leg.width + shift, max(cut - 15 * k, 40 * k)))
    tube(
        layer,
        grid,
        tuple(head),
        tuple(end),
        6 * k * jf,
        5.5 * k * jf,
        MU_CORTEX,
        wall=2.5 * k * c,
        inner_weight=MU_MARROW,
    )
    if cut is None:
        bone_ellipsoid(
            layer, grid, tuple(mall), axes, 12 * k, 1.5 * c, af.angle_deg, mode="max"
        )  # lateral malleolus


def pelvis(layer, grid: Grid, a: Anatomy) -> None:
    """Sacrum, L5, iliac wings, acetabular roofs concentric with the femoral heads, teardrops,
    pubic and ischial rami."""
    k = a.scale
    r, lft = a.legs["right"], a.legs["left"]
    mid = (r.hip + lft.hip) / 2
    tilt = a.pelvic_tilt_deg
    up = np.array([np.sin(np.deg2rad(tilt)), -np.cos(np.deg2rad(tilt))])
    across = np.array([np.cos(np.deg2rad(tilt)), np.sin(np.deg2rad(tilt))])
    c = 1.0 if not a.child else 0.7

    def at(u: float, v: float) -> tuple[float, float]:
        return tuple(mid + across * u * k + up * v * k)

    ellipsoid(layer, grid, at(0, 95), (48 * k, 62 * k), 30 * k, MU_TRABECULAR * 2, tilt)  # sacrum
    ellipsoid(layer, grid, at(0, 185), (28 * k, 17 * k), 20 * k, MU_TRABECULAR * 2, tilt)  # L5
    for side, leg in ((-1, r), (1, lft)):
        shell(
            layer,
            grid,
            at(side * 105, 95),
            (78 * k, 62 * k),
            9 * k,
            2.0 * c,
            MU_CORTEX,
            tilt + side * 25,
        )  # iliac wing
        ellipsoid(
            layer,
            grid,
            at(side * 105, 95),
            (74 * k, 58 * k),
            6 * k,
            MU_TRABECULAR,
            tilt + side * 25,
        )
        hip = leg.hip
        roof_r = leg.head_radius + (4.0 if a.child else 2.5)
        medial = -across * side
        incl = np.deg2rad(40.0)
        dome = np.cos(incl) * up + np.sin(incl) * medial
        ellipsoid(
            layer,
            grid,
            tuple(hip + up * (roof_r + 26 * k) - medial * 4 * k),
            (30 * k, 40 * k),
            22 * k,
            MU_TRABECULAR * 1.5,
            tilt + side * 10,
            mode="max",
        )  # supra-acetabular ilium
        shell(
            layer,
            grid,
            tuple(hip),
            (roof_r + 5, roof_r + 5),
            roof_r + 5,
            5.0,
            MU_CORTEX * 0.6,
            half=(dome[0], dome[1], -0.45),
        )  # acetabulum: its rims cross the head
        start = float(np.degrees(np.arctan2(up[1], up[0])))
        arc(
            layer,
            grid,
            tuple(hip),
            roof_r + 1.5,
            start - side * 35,
            start + side * 50,
            1.6,
            MU_CORTEX * 5,
        )  # the sourcil: the dense acetabular roof, concentric with the head
        teardrop = hip - across * side * (leg.head_radius + 6 * k) + up * (-6 * k)
        shell(layer, grid, tuple(teardrop), (5 * k, 12 * k), 10 * k, 2.0, MU_CORTEX, tilt)
        for p0, p1, r0, r1 in (
            (hip - up * 14 * k - across * side * 18 * k, at(side * 8, -58), 9, 8),  # sup. ramus
            (hip - up * 25 * k, at(side * 55, -95), 14, 12),  # ischium
            (np.array(at(side * 55, -95)), at(side * 14, -72), 8, 7),  # inferior ramus
        ):
            tube(
                layer,
                grid,
                tuple(p0),
                tuple(p1),
                r0 * k,
                r1 * k,
                MU_CORTEX,
                wall=3.0 * c,
                inner_weight=MU_TRABECULAR,
            )
