"""Orthopaedic hardware and other things on or in the legs: joint replacements, nails,
plates, screws, external fixators, casts, guided-growth plates, gonad shields and
prosthetic limbs.

Implants over a landmark do not move it: the landmark stays defined by the anatomy
(:mod:`.definitions`); a prosthetic femoral head is centred on the hip centre and a knee
replacement is centred on the knee centre at the joint line. Metal goes into the
``occluder`` map (it decides which landmarks count as occluded), casts and plastic into
``extra``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from apn_core.synth import bones
from apn_core.synth.anatomy import SIDES, Anatomy, Frame, Leg
from apn_core.synth.draws import Draws, chance, pick
from apn_core.synth.projection import Grid, ellipsoid, polygon_plate, shell, slab, tube

MU_STEEL = 0.9  # stainless steel / cobalt-chrome, per mm
MU_TITANIUM = 0.45
MU_LEAD = 6.0
MU_CEMENT = 0.05  # PMMA with barium
MU_PLASTER = 0.03
MU_FIBREGLASS = 0.008
MU_RESIN = 0.015

HIP_STYLES = ("straight", "anatomic", "short", "cemented", "bipolar", "resurfacing")
KNEE_STYLES = ("total", "unicondylar", "hinged", "revision")
NAIL_SITES = ("femur", "tibia")
PLATE_SITES = ("femur", "dfo", "hto", "tibia", "fibula")
SCREW_SITES = ("neck", "dhs", "ankle")
FIXATOR_STYLES = ("monolateral", "ring")
CAST_SITES = ("below-knee", "above-knee")


@dataclass(frozen=True)
class HardwarePriors:
    """Probabilities (per leg unless said) of hardware, and the styles drawn from.

    hip_replacement: a hip replacement; ``hip_styles`` from straight / anatomic / short
        stems, cemented (cement mantle, all-polyethylene cup seen only by its wire marker),
        bipolar (hemiarthroplasty: native-size metal head, no cup), resurfacing (metal cap
        on the native head).
    knee_replacement: a knee replacement; ``knee_styles`` from total, unicondylar (medial),
        hinged (stems and a hinge box over the knee centre), revision (long stems).
    nail: an intramedullary nail; ``nail_sites`` femur (antegrade, with a lag screw through
        the neck into the head in ``nail_lag_screw`` of cases) or tibia; interlocking screws.
    plate: a plate with screws; ``plate_sites`` femur (shaft), dfo (distal femoral
        osteotomy), hto (high tibial osteotomy), tibia (shaft), fibula (distal).
    screws: screws without a plate; ``screw_sites`` neck (three cannulated screws), dhs
        (sliding hip screw with side plate), ankle (malleolar and syndesmotic screws).
    fixator: an external fixator; ``fixator_styles`` monolateral (pins and a bar) or ring
        (Ilizarov rings, wires and rods).
    cast: a cast (plaster or fibreglass); ``cast_sites`` below-knee or above-knee.
    growth_plates: guided-growth (eight-) plates across the knee physes (children only).
    shield: probability per image of a lead gonad shield over the pelvis.
    prosthetic_limb: probability that an amputee wears a prosthetic limb (socket, pylon).
    titanium: probability that an implant is titanium (about half the attenuation of steel).
    """

    hip_replacement: float = 0.0
    hip_styles: tuple[str, ...] = HIP_STYLES
    knee_replacement: float = 0.0
    knee_styles: tuple[str, ...] = KNEE_STYLES
    nail: float = 0.0
    nail_sites: tuple[str, ...] = NAIL_SITES
    nail_lag_screw: float = 0.6
    plate: float = 0.0
    plate_sites: tuple[str, ...] = PLATE_SITES
    screws: float = 0.0
    screw_sites: tuple[str, ...] = SCREW_SITES
    fixator: float = 0.0
    fixator_styles: tuple[str, ...] = FIXATOR_STYLES
    cast: float = 0.0
    cast_sites: tuple[str, ...] = CAST_SITES
    growth_plates: float = 0.0
    shield: float = 0.15
    prosthetic_limb: float = 0.6
    titanium: float = 0.3


@dataclass
class Item:
    """One piece of hardware: ``kind`` (e.g. ``hip``, ``nail``), the leg's side (or None),
    its style or site, and the numbers it was drawn with."""

    kind: str
    side: str | None
    style: str
    params: dict = field(default_factory=dict)


@dataclass
class Hardware:
    """Everything drawn on a case besides the anatomy."""

    items: list[Item] = field(default_factory=list)

    def has(self, kind: str, side: str | None = None) -> bool:
        return any(i.kind == kind and (side is None or i.side == side) for i in self.items)

    def get(self, kind: str, side: str) -> Item | None:
        return next((i for i in self.items if i.kind == kind and i.side == side), None)

    def summary(self) -> list[dict]:
        return [asdict(i) for i in self.items]


def sample_hardware(draws: Draws, pri: HardwarePriors, anatomy: Anatomy) -> Hardware:
    """Draw the hardware of one case, avoiding impossible combinations (no femoral nail in a
    hip replacement, no joint replacement in a child, nothing distal to an amputation)."""
    hw = Hardware()
    for side in SIDES:
        leg = anatomy.legs[side]
        rng = draws(f"hardware.{side}")
        rolls = {
            name: rng.random()
            for name in (
                "hip",
                "knee",
                "nail",
                "plate",
                "screws",
                "fixator",
                "cast",
                "growth",
                "metal",
            )
        }
        styles = {
            "hip": pick(rng, pri.hip_styles or HIP_STYLES),
            "knee": pick(rng, pri.knee_styles or KNEE_STYLES),
            "nail": pick(rng, pri.nail_sites or NAIL_SITES),
            "plate": pick(rng, pri.plate_sites or PLATE_SITES),
            "screws": pick(rng, pri.screw_sites or SCREW_SITES),
            "fixator": pick(rng, pri.fixator_styles or FIXATOR_STYLES),
            "cast": pick(rng, pri.cast_sites or CAST_SITES),
        }
        params = {"u": [float(x) for x in rng.random(8)]}  # shape numbers for the renderers
        params["titanium"] = bool(rolls["metal"] < pri.titanium)
        hip_ok, knee_ok, ankle_ok = leg.exists
        adult = not leg.physes
        if hip_ok and adult and rolls["hip"] < pri.hip_replacement:
            hw.items.append(Item("hip", side, styles["hip"], dict(params)))
        if knee_ok and adult and rolls["knee"] < pri.knee_replacement:
            hw.items.append(Item("knee", side, styles["knee"], dict(params)))
        nail = styles["nail"]
        if rolls["nail"] < pri.nail and _nail_fits(hw, side, nail, leg):
            p = dict(params, lag=bool(params["u"][0] < pri.nail_lag_screw))
            hw.items.append(Item("nail", side, nail, p))
        plate = styles["plate"]
        if rolls["plate"] < pri.plate and _plate_fits(hw, side, plate, leg):
            hw.items.append(Item("plate", side, plate, dict(params)))
        screws = styles["screws"]
        if rolls["screws"] < pri.screws and _screws_fit(hw, side, screws, leg):
            hw.items.append(Item("screws", side, screws, dict(params)))
        if rolls["fixator"] < pri.fixator and knee_ok:
            hw.items.append(Item("fixator", side, styles["fixator"], dict(params)))
        if rolls["cast"] < pri.cast and ankle_ok and not hw.has("fixator", side):
            cast = styles["cast"] if knee_ok else "below-knee"
            hw.items.append(Item("cast", side, cast, dict(params)))
        if rolls["growth"] < pri.growth_plates and leg.physes and knee_ok:
            hw.items.append(Item("growth", side, "eight-plate", dict(params)))
        if leg.amputation and chance(rng, pri.prosthetic_limb):
            hw.items.append(Item("limb", side, leg.amputation, dict(params)))
    rng = draws("hardware.shield")
    shape = pick(rng, ("male", "female"))
    offset = (float(rng.normal(0, 30)), float(rng.uniform(-10, 60)), float(rng.uniform(0.8, 1.4)))
    if chance(rng, pri.shield):
        hw.items.append(Item("shield", None, shape, {"offset": offset}))
    return hw


def _nail_fits(hw: Hardware, side: str, site: str, leg: Leg) -> bool:
    _, knee_ok, ankle_ok = leg.exists
    if site == "femur":
        return knee_ok and not hw.has("hip", side) and not hw.has("knee", side)
    return ankle_ok and not hw.has("knee", side)


def _plate_fits(hw: Hardware, side: str, site: str, leg: Leg) -> bool:
    _, knee_ok, ankle_ok = leg.exists
    if site in ("femur", "dfo"):
        return knee_ok and not hw.has("nail", side) and not (site == "dfo" and hw.has("knee", side))
    if site == "fibula":
        return ankle_ok
    return ankle_ok and not hw.has("knee", side) and not hw.has("nail", side)


def _screws_fit(hw: Hardware, side: str, site: str, leg: Leg) -> bool:
    if site in ("neck", "dhs"):
        return leg.exists[1] and not hw.has("hip", side) and not hw.has("nail", side)
    return leg.exists[2]


# --------------------------------------------------------------------------- rendering


def render_hardware(maps, grid: Grid, anatomy: Anatomy, hw: Hardware) -> None:
    """Draw every item into ``maps.occluder`` (metal, lead) or ``maps.extra`` (casts, plastic)."""
    for item in hw.items:
        if item.kind == "shield":
            _shield(maps.occluder, grid, anatomy, item)
            continue
        leg = anatomy.legs[item.side]
        mu = MU_TITANIUM if item.params.get("titanium") else MU_STEEL
        RENDERERS[item.kind](maps, grid, leg, item, mu)


def _u(item: Item, i: int, lo: float, hi: float) -> float:
    """The item's i-th stored random number mapped to [lo, hi]."""
    return lo + (hi - lo) * item.params["u"][i]


def _hip(maps, grid, leg: Leg, item: Item, mu: float) -> None:
    """Hip replacement; the prosthetic head (or the resurfacing cap) is centred on the hip."""
    k, layer, style = leg.k, maps.occluder, item.style
    ff = leg.femur_frame()
    ndir, nlen = bones.neck_direction(leg)
    base = leg.hip + ndir * nlen
    up, medial = -ff.down, -ff.lat
    incl = np.deg2rad(_u(item, 1, 35, 55))
    dome = np.cos(incl) * up + np.sin(incl) * medial
    rh = leg.head_radius
    if style == "resurfacing":
        shell(
            layer,
            grid,
            tuple(leg.hip),
            (rh + 1.0, rh + 1.0),
            rh + 1.0,
            2.5,
            mu,
            half=tuple(np.cos(0.6) * up + np.sin(0.6) * medial),
        )
        tube(layer, grid, tuple(leg.hip), tuple(leg.hip + ndir * rh * 1.6), 3.0, 3.0, mu)
        shell(layer, grid, tuple(leg.hip), (rh + 5, rh + 5), rh + 5, 3.5, mu, half=tuple(dome))
        return
    r_head = (
        rh * 0.98 if style == "bipolar" else (11.0, 14.0, 16.0, 18.0)[int(_u(item, 2, 0, 3.99))]
    )
    ellipsoid(layer, grid, tuple(leg.hip), (r_head, r_head), r_head, mu)
    if style == "cemented":  # all-poly cup: only its wire marker and the cement show
        cup_r = r_head + 9.0
        shell(
            maps.extra,
            grid,
            tuple(leg.hip),
            (cup_r + 3, cup_r + 3),
            cup_r + 3,
            3.0,
            MU_CEMENT,
            half=tuple(dome),
        )
        ring = Frame.make(leg.hip, dome, 1.0)
        slab(layer, grid, ring.at(-cup_r, 0), ring.at(cup_r, 0), 0.6, 2.0 * cup_r * 0.3, mu)
    elif style != "bipolar":
        cup_r = r_head + _u(item, 3, 6, 11)
        shell(
            layer,
            grid,
            tuple(leg.hip),
            (cup_r, cup_r),
            cup_r,
            _u(item, 4, 2.5, 5),
            mu,
            half=tuple(dome),
        )
        if item.params["u"][5] < 0.5:  # acetabular screws
            for ang in (-0.35, 0.25):
                d = np.cos(ang) * dome + np.sin(ang) * ff.down
                tube(
                    layer,
                    grid,
                    tuple(leg.hip + d * cup_r),
                    tuple(leg.hip + d * (cup_r + 25)),
                    2.5,
                    2.0,
                    mu,
                )
    tube(layer, grid, tuple(leg.hip + ndir * r_head * 0.7), tuple(base), 6 * k, 8 * k, mu)
    shaft = leg.knee - base
    shaft = shaft / np.linalg.norm(shaft)
    length = {"short": 75, "anatomic": 150, "straight": 140, "cemented": 135, "bipolar": 140}[style]
    tip = base + shaft * length * k * _u(item, 6, 0.85, 1.15)
    if style == "anatomic":
        mid = base + (tip - base) * 0.5 + ff.lat * 4 * k
        tube(layer, grid, tuple(base), tuple(mid), 11 * k, 8 * k, mu)
        tube(layer, grid, tuple(mid), tuple(tip), 8 * k, 5 * k, mu)
    else:
        tube(layer, grid, tuple(base), tuple(tip), 10 * k, 5 * k, mu)
    if style == "cemented":
        tube(maps.extra, grid, tuple(base), tuple(tip + shaft * 15), 14 * k, 9 * k, MU_CEMENT)


def _knee(maps, grid, leg: Leg, item: Item, mu: float) -> None:
    """Knee replacement centred on the knee centre: femoral component above and tibial tray
    below a radiolucent polyethylene insert that straddles the joint line."""
    k, layer, style = leg.k, maps.occluder, item.style
    kf = leg.knee_frame()
    poly = _u(item, 1, 8, 16) / 2  # half the insert thickness
    w = 38 * k * leg.width * leg.rotation_cos
    half = tuple(kf.down)
    a, b = 17.0 * k * leg.width * leg.rotation_cos**0.5, 20.0 * k
    cu = 19.0 * k * leg.width * leg.rotation_cos
    sides = (-1.0,) if style == "unicondylar" else (-1.0, 1.0)
    for s in sides:  # condylar runners (metal seen through their anterior and posterior walls)
        ellipsoid(layer, grid, kf.at(s * cu, -poly - b), (a, b), 4.0, mu, kf.angle_deg, half=half)
    if style == "unicondylar":
        slab(layer, grid, kf.at(-w * 0.9, poly + 2), kf.at(-w * 0.1, poly + 2), 2.0, 25 * k, mu)
        return
    slab(
        layer,
        grid,
        kf.at(-cu * 0.6, -poly - 15 * k),
        kf.at(cu * 0.6, -poly - 15 * k),
        5 * k,
        10.0,
        mu,
    )  # the intercondylar box bridging the runners
    slab(
        layer,
        grid,
        kf.at(-w * 0.7, -poly - 22 * k),
        kf.at(-w * 0.7, -poly - 48 * k),
        1.5,
        30 * k,
        mu,
    )  # anterior flange edge
    slab(layer, grid, kf.at(-w, poly + 2.5), kf.at(w, poly + 2.5), 2.5, 30 * k, mu)  # tibial tray
    stem = {"total": 45, "hinged": 120, "revision": 130}[style] * k
    tube(layer, grid, kf.at(0, poly + 4), kf.at(0, poly + 4 + stem), 7 * k, 5 * k, mu)
    if style in ("hinged", "revision"):
        tube(
            layer, grid, kf.at(0, -poly - 30 * k), kf.at(0, -poly - 30 * k - stem), 8 * k, 6 * k, mu
        )
    if style == "hinged":  # the hinge box sits in the notch, over the knee centre
        ellipsoid(layer, grid, kf.at(0, -poly - 8 * k), (10 * k, 20 * k), 18 * k, mu, kf.angle_deg)


def _nail(maps, grid, leg: Leg, item: Item, mu: float) -> None:
    """Intramedullary nail (cannulated) with interlocking screws; femoral nails may carry a
    lag screw along the neck into the head."""
    k, layer = leg.k, maps.occluder
    r = _u(item, 1, 4.5, 6.5)
    if item.style == "femur":
        ff, kf = leg.femur_frame(), leg.knee_frame()
        ndir, nlen = bones.neck_direction(leg)
        entry = leg.hip + ndir * nlen + ff.lat * 4 * k - ff.down * 20 * k
        end = np.array(kf.at(0, -_u(item, 2, 40, 90) * k))
        tube(layer, grid, tuple(entry), tuple(end), r, r, mu, wall=2.0, inner_weight=0.0)
        if item.params.get("lag"):
            tip = leg.hip - ndir * leg.head_radius * _u(item, 3, 0.2, 0.6)
            tube(layer, grid, tuple(tip), tuple(leg.hip + ndir * nlen * 1.9), 5.0, 5.0, mu)
        axis = (end - entry) / np.linalg.norm(end - entry)
    else:
        kf, af = leg.knee_frame(), leg.ankle_frame()
        entry = np.array(kf.at(0, leg.knee_gap / 2 + 12 * k))
        end = np.array(af.at(0, -_u(item, 2, 20, 45) * k))
        tube(layer, grid, tuple(entry), tuple(end), r, r, mu, wall=2.0, inner_weight=0.0)
        axis = (end - entry) / np.linalg.norm(end - entry)
        _screw_across(layer, grid, entry + axis * 25 * k, axis, 22 * k, 2.5, mu, tilt=0.3)
    for d in (30, 55):  # distal interlocking screws
        _screw_across(layer, grid, end - axis * d * k, axis, 24 * k, 2.5, mu)


def _screw_across(layer, grid, centre, axis, half_len, radius, mu, tilt: float = 0.0) -> None:
    """A screw through the bone, perpendicular to ``axis`` (tilted by ``tilt`` radians)."""
    n = np.array([axis[1], -axis[0]])
    d = np.cos(tilt) * n + np.sin(tilt) * axis
    tube(
        layer,
        grid,
        tuple(centre - d * half_len),
        tuple(centre + d * half_len),
        radius,
        radius * 0.8,
        mu,
    )


def _plate(maps, grid, leg: Leg, item: Item, mu: float) -> None:
    """A plate seen nearly edge-on on the bone's surface, with screws across the bone."""
    k, layer, site = leg.k, maps.occluder, item.style
    ff, kf, af = leg.femur_frame(), leg.knee_frame(), leg.ankle_frame()
    if site == "femur":
        frame, side, v0, v1, bone_half = ff, 1.0, 90 * k, 300 * k, 15 * k
    elif site == "dfo":
        frame, side, v0, v1, bone_half = kf, -1.0, -130 * k, -25 * k, 24 * k
    elif site == "hto":
        frame, side, v0, v1, bone_half = kf, -1.0, 12 * k, 110 * k, 26 * k
    elif site == "tibia":
        frame, side, v0, v1, bone_half = kf, -1.0, 110 * k, 260 * k, 13 * k
    else:  # fibula
        frame, side, v0, v1, bone_half = af, 1.0, -110 * k, 5 * k, 0.0
    if site == "fibula":
        u = leg.mortise().fibula_face + 8 * k - leg.fibula_overlap
    else:
        u = side * (bone_half + 2)
    width = _u(item, 1, 2.0, 6.0)  # half-width on the image (edge-on … oblique)
    slab(layer, grid, frame.at(u, v0), frame.at(u, v1), width, _u(item, 2, 8, 16), mu)
    n_screws = 2 + int(_u(item, 3, 0, 4.99))
    for v in np.linspace(v0 + 8, v1 - 8, n_screws):
        length = bone_half * 2 + 6 if site != "fibula" else 16 * k
        a, b = frame.at(u, v), frame.at(u - side * length, v + _u(item, 4, -8, 8))
        tube(layer, grid, a, b, 2.4, 2.0, mu)


def _screws(maps, grid, leg: Leg, item: Item, mu: float) -> None:
    """Cannulated neck screws, a sliding hip screw with side plate, or ankle screws."""
    k, layer, site = leg.k, maps.occluder, item.style
    if site in ("neck", "dhs"):
        ff = leg.femur_frame()
        ndir, nlen = bones.neck_direction(leg)
        tip = leg.hip - ndir * leg.head_radius * _u(item, 1, 0.2, 0.6)
        out = leg.hip + ndir * (nlen + 25 * k)
        if site == "neck":
            perp = np.array([ndir[1], -ndir[0]])
            for off in (-7 * k, 0.0, 7 * k):
                tube(layer, grid, tuple(tip + perp * off), tuple(out + perp * off), 3.2, 3.2, mu)
        else:
            tube(layer, grid, tuple(tip), tuple(out), 5.5, 5.5, mu)
            p0 = out - ff.lat * 3
            slab(layer, grid, tuple(p0), tuple(p0 + ff.down * 130 * k), 3.0, 14, mu)
            for v in (35, 65, 95, 120):
                a = p0 + ff.down * v * k
                tube(layer, grid, tuple(a), tuple(a - ff.lat * 34 * k), 2.3, 2.0, mu)
        return
    af, m = leg.ankle_frame(), leg.mortise()
    medial = m.plafond_half + m.malleolus_half
    for du in (0.0, 6 * k):  # malleolar screws up into the tibia
        a, b = af.at(-medial + du, m.malleolus_tip - 3 * k), af.at(-medial * 0.25 + du, -45 * k)
        tube(layer, grid, a, b, 2.0, 2.0, mu)
    if item.params["u"][2] < 0.5:  # syndesmotic screw
        v = -_u(item, 3, 20, 35) * k
        tube(layer, grid, af.at(m.fibula_face + 12 * k, v), af.at(-medial, v - 4), 2.0, 2.0, mu)


def _fixator(maps, grid, leg: Leg, item: Item, mu: float) -> None:
    """External fixator: half-pins and a bar beside the leg, or rings with wires and rods."""
    k, layer = leg.k, maps.occluder
    on_femur = item.params["u"][1] < 0.35 and item.style == "monolateral"
    frame = leg.femur_frame() if on_femur else leg.knee_frame()
    seg = (60 * k, 330 * k) if on_femur else (40 * k, 0.85 * np.linalg.norm(leg.ankle - leg.knee))
    if item.style == "monolateral":
        bar_u = (45 if not on_femur else 110) * k + _u(item, 2, 0, 40)
        side = 1.0 if on_femur or item.params["u"][3] < 0.5 else -1.0
        bar_mu = MU_RESIN * 2 if item.params["u"][4] < 0.5 else mu * 0.5  # carbon or steel
        tube(
            maps.extra if bar_mu < 0.1 else layer,
            grid,
            frame.at(side * bar_u, seg[0]),
            frame.at(side * bar_u, seg[1]),
            6.0,
            6.0,
            bar_mu,
        )
        for v in (seg[0] + 10, seg[0] + 40 * k, seg[1] - 40 * k, seg[1] - 10):
            tube(
                layer,
                grid,
                frame.at(side * (bar_u + 5), v),
                frame.at(-side * 12 * k, v + 3),
                2.5,
                2.5,
                mu,
            )  # half-pins
            ellipsoid(layer, grid, frame.at(side * bar_u, v), (8, 6), 8, mu * 0.6)  # clamps
        return
    radius = _u(item, 2, 70, 95) * k
    levels = np.linspace(seg[0] + 10, seg[1] - 10, 3 + int(item.params["u"][3] < 0.5))
    for v in levels:
        shell(layer, grid, frame.at(0, v), (radius, 4.0), radius, 3.0, mu * 0.8, frame.angle_deg)
        for ang in (-0.35, 0.3):  # tensioned wires across the ring
            d = np.array([np.cos(ang), np.sin(ang)])
            d = d[0] * frame.lat + d[1] * frame.down
            c = np.array(frame.at(0, v + 8))
            tube(layer, grid, tuple(c - d * radius), tuple(c + d * radius), 0.9, 0.9, mu)
    for u in (-0.75, 0.75):  # threaded rods between the rings
        tube(
            layer,
            grid,
            frame.at(u * radius, levels[0]),
            frame.at(u * radius, levels[-1]),
            3.0,
            3.0,
            mu * 0.8,
        )


def _cast(maps, grid, leg: Leg, item: Item, mu: float) -> None:
    """A cast: a shell of plaster (or fibreglass) around the soft tissue of the leg."""
    k = leg.k
    weight = MU_PLASTER if item.params["u"][1] < 0.6 else MU_FIBREGLASS
    wall = _u(item, 2, 4.0, 9.0)
    kf, af = leg.knee_frame(), leg.ankle_frame()
    top = kf.at(0, 30 * k) if item.style == "below-knee" else leg.femur_frame().at(0, 200 * k)
    segments = (
        [(np.array(top), np.array(kf.at(0, 0)), 70, 62)] if item.style != "below-knee" else []
    )
    segments += [
        (np.array(kf.at(0, 30 * k)) if item.style == "below-knee" else leg.knee, leg.ankle, 62, 40),
        (leg.ankle, np.array(af.at(0, 75 * k)), 40, 48),
    ]
    for p0, p1, r0, r1 in segments:
        r0, r1 = r0 * k * 1.05 + wall, r1 * k * 1.05 + wall
        tube(maps.extra, grid, tuple(p0), tuple(p1), r0, r1, weight, wall=wall, inner_weight=0.0)


def _growth(maps, grid, leg: Leg, item: Item, mu: float) -> None:
    """Guided-growth (eight-) plates across the distal femoral and/or proximal tibial physis."""
    k, layer = leg.k, maps.occluder
    kf = leg.knee_frame()
    side = -1.0 if item.params["u"][1] < 0.6 else 1.0
    for v, half in ((-leg.knee_gap / 2 - 30 * k, 34 * k), (leg.knee_gap / 2 + 14 * k, 36 * k)):
        if item.params["u"][2] < 0.3 and v > 0:
            continue
        u = side * (half * leg.width + 2)
        slab(layer, grid, kf.at(u, v - 11 * k), kf.at(u, v + 11 * k), 1.5, 10, mu)
        for dv in (-8 * k, 8 * k):
            tube(
                layer, grid, kf.at(u, v + dv), kf.at(u - side * 22 * k, v + 1.6 * dv), 1.8, 1.5, mu
            )


def _limb(maps, grid, leg: Leg, item: Item, mu: float) -> None:
    """A prosthetic limb: resin socket around the stump, metal pylon, adapters, foot."""
    k = leg.k
    ff = leg.femur_frame()
    start = leg.hip + ff.down * 220 * k if item.style != "transtibial" else leg.knee
    if item.style == "transtibial":
        start = np.array(leg.knee_frame().at(0, 120 * k))
    socket_top = start - (leg.ankle - start) / np.linalg.norm(leg.ankle - start) * 140 * k
    tube(maps.extra, grid, tuple(socket_top), tuple(start), 75 * k, 45 * k, MU_RESIN, wall=5.0)
    pylon_top = start + (leg.ankle - start) / np.linalg.norm(leg.ankle - start) * 20
    if item.style != "transtibial":  # a knee unit at the knee's level
        ellipsoid(maps.occluder, grid, tuple(leg.knee), (30 * k, 40 * k), 30 * k, MU_TITANIUM * 0.4)
    tube(
        maps.occluder,
        grid,
        tuple(pylon_top),
        tuple(leg.ankle),
        15.0,
        15.0,
        MU_TITANIUM,
        wall=1.6,
        inner_weight=0.0,
    )
    ellipsoid(maps.occluder, grid, tuple(pylon_top), (18, 12), 18, MU_TITANIUM)  # adapters
    ellipsoid(maps.occluder, grid, tuple(leg.ankle), (18, 12), 18, MU_TITANIUM)
    af = leg.ankle_frame()
    ellipsoid(maps.extra, grid, af.at(5, 45 * k), (40 * k, 45 * k), 35 * k, MU_RESIN * 0.6)


def _shield(layer, grid, a: Anatomy, item: Item) -> None:
    """A lead gonad shield over the pelvis: rounded triangle (male) or oval (female)."""
    dx, dy, size = item.params["offset"]
    c = a.centre() + np.array([dx, dy])
    w, h = 38 * a.scale * size, 44 * a.scale * size
    theta = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    if item.style == "male":
        radius = 1.0 + 0.3 * np.sin(theta) * np.abs(np.cos(theta))  # pointed below
        pts = c + np.stack([w * radius * np.cos(theta), h * radius * np.sin(theta) * 0.8], axis=1)
    else:
        c = c - np.array([0, 40 * a.scale])
        pts = c + np.stack([w * 1.3 * np.cos(theta), h * 0.6 * np.sin(theta)], axis=1)
    polygon_plate(layer, grid, pts, 0.5, MU_LEAD)


RENDERERS = {
    "hip": _hip,
    "knee": _knee,
    "nail": _nail,
    "plate": _plate,
    "screws": _screws,
    "fixator": _fixator,
    "cast": _cast,
    "growth": _growth,
    "limb": _limb,
}
