"""The six landmarks from hand-drawn femur and tibia outlines (e.g. LabelMe polygons).

Definitions (the project's, :mod:`apn_core.synth.definitions`, applied to outlines; checked
against the OAI central readers' HKA angles, README "Real radiographs"):

femoral head centre
    centre of the circle fitted to the head's contour: the longest circular arc of the
    proximal femur's outline (radius 3–8 % of the femur's length), found by its angular
    coverage and refined by geometric least squares on the points within tolerance.
knee joint centre
    the interspinous point — the midpoint of the tibial spines, taken as the area centroid
    of the intercondylar eminence above the line through the medial and lateral plateau
    (the plateau's centre when the outline draws no eminence) — on the knee joint line, the
    middle of the joint space halfway between the line through the two femoral condyles'
    lowest points and the plateau line (the one-point knee centre at the tibial spines,
    Goulston et al., Osteoarthritis Cartilage 2016;24:612–622, method KJC2; Paley 2002).
    The centre of the intercondylar notch (the area centroid of the notch between the
    condyles) is derived too (``details["notch"]``): a real notch lies 0–3 mm medial of
    the spines, and a knee point weighted between notch and spines — the one-point point
    that equals the two-point (notch / spines) HKA — read the OAI development films'
    HKA 0.4° more valgus than their readers; the spines agree with them (README).
ankle joint centre
    midpoint of the tibial plafond — between the tibia's lateral border and the inner corner
    of the medial malleolus, where the distal outline turns down — at the tibiotalar joint
    line, half a joint space (1.5 mm, half of the 2–4 mm adult joint space the phantom
    generator draws) below the plafond ("tibial mid-plafond", Paley 2002, ch. 1).

Sides: the femoral head is medial of the femoral shaft, and the patient's right leg is on
the image's left, so a head to the image-right of its shaft is a right femur; the medial
malleolus is the tibia's lowest point. Outlines carry no spacing: everything is in pixels
except the ankle's half joint space, which needs the pixel spacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from apn_core.outlines.circle import Circle, candidates, coverage, refit
from apn_core.outlines.polygon import (
    as_polygon,
    densify,
    envelope,
    horizontal_crossings,
    inside,
    line_at,
)

HALF_ANKLE_JOINT_MM = 1.5
PROXIMAL_FEMUR = 0.30  # share of the femur's height searched for the head
DISTAL_FEMUR = 0.12  # ... for the condyles
PROXIMAL_TIBIA = 0.12
DISTAL_TIBIA = 0.12
HEAD_RADIUS = (0.03, 0.08)  # share of the femur's height (head diameter ≈ 45 mm of ≈ 450 mm)


class OutlineError(ValueError):
    """An outline from which a landmark cannot be derived; the message says why."""


@dataclass
class LegLandmarks:
    """One leg's derived landmarks, (x, y) px, with what they were derived from.

    side: ``"right"`` or ``"left"`` (the patient's). Points are NaN where not derived;
    ``notes`` says why. ``details`` keeps the intermediate points for overlays and QA.
    """

    side: str
    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray
    head: Circle | None = None
    notes: list[str] = field(default_factory=list)
    details: dict[str, tuple[float, float]] = field(default_factory=dict)


def shaft_axis(femur: np.ndarray) -> tuple[float, float]:
    """The femoral shaft's midline ``x = a + b·y``, fitted through the middle of the outline's
    width at 35–75 % of its height (below the trochanters, above the condyles)."""
    ys = femur[:, 1]
    top, height = ys.min(), ys.max() - ys.min()
    rows, mids = [], []
    for f in np.linspace(0.35, 0.75, 17):
        y = top + f * height
        xs = horizontal_crossings(femur, y)
        if len(xs) >= 2:
            rows.append(y)
            mids.append(0.5 * (xs.min() + xs.max()))
    if len(rows) < 3:
        raise OutlineError("the femur outline has no shaft between 35 % and 75 % of its height")
    b, a = np.polyfit(rows, mids, 1)
    return float(a), float(b)


def femur_side(femur: np.ndarray) -> str:
    """``"right"`` or ``"left"``: the side of the shaft's midline to which the proximal femur
    reaches further. Head and neck project 40-50 mm medially from the shaft, the greater
    trochanter 15-20 mm laterally, and the patient's right leg is on the image's left, so a
    proximal femur reaching to the image-right is a right femur."""
    a, b = shaft_axis(femur)
    ys = femur[:, 1]
    top, height = ys.min(), ys.max() - ys.min()
    prox = femur[femur[:, 1] <= top + PROXIMAL_FEMUR * height]
    offset = prox[:, 0] - (a + b * prox[:, 1])
    return "right" if offset.max() > -offset.min() else "left"


def femoral_head(femur: np.ndarray, side: str) -> Circle:
    """The circle of the femoral head on a femur outline.

    Candidates are circles through triples of the proximal outline's points medial of the
    shaft, with radii 3–8 % of the femur's height. Each is scored, in degrees of its own
    circumference, by the arc the outline follows within tolerance (5° sectors), less the
    outline running deep inside it (more than 15 % of the radius: a circle stretched over
    head and neck has the neck's upper contour through it), less the gap between its top and
    the head's superior rim (the highest medial point of the outline, which a reader's
    circle touches). The best is refined by geometric least squares on its own points.
    """
    ys = femur[:, 1]
    height = ys.max() - ys.min()
    step = max(0.25, height / 1500)
    pts = densify(femur, step)
    a, b = shaft_axis(femur)
    medial = (pts[:, 0] - (a + b * pts[:, 1])) * (1 if side == "right" else -1) > 0
    proximal = pts[(pts[:, 1] <= ys.min() + PROXIMAL_FEMUR * height) & medial]
    if len(proximal) < 8:
        raise OutlineError("no femoral head medial of the shaft in the femur outline")
    tolerance = max(0.6, 0.004 * height)
    centres, radii = candidates(proximal, (HEAD_RADIUS[0] * height, HEAD_RADIUS[1] * height))
    if not len(radii):
        raise OutlineError("no circular femoral head contour found in the femur outline")
    rim = proximal[:, 1].min()
    degrees = 180.0 / np.pi
    best, best_score = None, -np.inf
    for start in range(0, len(radii), 2048):  # chunks bound the (candidates × points) memory
        c, r = centres[start : start + 2048], radii[start : start + 2048]
        dist = np.hypot(proximal[None, :, 0] - c[:, None, 0], proximal[None, :, 1] - c[:, None, 1])
        on = np.abs(dist - r[:, None]) <= tolerance
        deep = (dist < 0.85 * r[:, None]).sum(axis=1) * step / r * degrees
        gap = np.abs(c[:, 1] - r - rim) / r * degrees
        rough = on.sum(axis=1) * step / r * degrees - deep - gap
        for j in np.argsort(-rough)[:64]:
            score = coverage(proximal[on[j]], c[j]) - deep[j] - gap[j]
            if score > best_score:
                best_score, best = score, (c[j], r[j])
    circle = refit(proximal, best[0], best[1], tolerance)
    if circle.coverage_deg < 90:
        raise OutlineError("no circular femoral head contour found in the femur outline")
    if not inside(femur, np.array(circle.centre)):
        raise OutlineError("the fitted femoral head centre lies outside the femur outline")
    return circle


def _xs(lo: float, hi: float, step: float = 0.25) -> np.ndarray:
    return np.arange(lo, hi + step / 2, step)


def _compartments(xs: np.ndarray, e: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """The joint surface level of each compartment: the median of the edge over 10–35 % and
    65–90 % of the width (the outer margins and the centre, where outlines of both bones
    meet or the notch and spines rise, are left out), as (x, y) points."""
    w = xs[-1] - xs[0]
    parts = []
    for lo, hi in ((0.10, 0.35), (0.65, 0.90)):
        sel = (xs >= xs[0] + lo * w) & (xs <= xs[0] + hi * w)
        parts.append((float(np.median(xs[sel])), float(np.median(e[sel]))))
    return parts[0], parts[1]


def _central_centroid(xs: np.ndarray, e: np.ndarray, p1, p2) -> float:
    """x centroid of the area between the compartment line and the edge over the central half
    where the edge rises above it, as the femoral notch and the tibial spines do)."""
    w = xs[-1] - xs[0]
    central = (xs >= xs[0] + 0.25 * w) & (xs <= xs[0] + 0.75 * w)
    rise = np.clip(line_at(p1, p2, xs[central]) - e[central], 0, None)
    if rise.sum() <= 0:
        return 0.5 * (xs[0] + xs[-1])
    return float(np.sum(xs[central] * rise) / rise.sum())


def _edge(poly: np.ndarray, y_range: tuple[float, float], lower: bool):
    region = poly[(poly[:, 1] >= y_range[0]) & (poly[:, 1] <= y_range[1])]
    xs = _xs(region[:, 0].min(), region[:, 0].max())
    e = envelope(poly, xs, (y_range[0] - 1, y_range[1] + 1), lower=lower)
    ok = np.isfinite(e)
    return xs[ok], e[ok]


def condyles(femur: np.ndarray) -> dict[str, tuple[float, float]]:
    """The two condyles' joint surface levels and the notch centre of a femur outline."""
    ys = femur[:, 1]
    band = (ys.max() - DISTAL_FEMUR * (ys.max() - ys.min()), ys.max())
    c1, c2, notch = _knee_surface(femur, band, True, "distal femur", "condyles")
    return {"condyle_a": c1, "condyle_b": c2, "notch": notch}


def plateau(tibia: np.ndarray) -> dict[str, tuple[float, float]]:
    """Plateau levels (one per compartment) and the interspinous point of a tibia outline."""
    ys = tibia[:, 1]
    band = (ys.min(), ys.min() + PROXIMAL_TIBIA * (ys.max() - ys.min()))
    p1, p2, spines = _knee_surface(tibia, band, False, "proximal tibia", "plateau")
    return {"plateau_a": p1, "plateau_b": p2, "spines": spines}


def _knee_surface(
    outline: np.ndarray, band: tuple[float, float], lower: bool, part: str, sought: str
) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """One side of the knee joint: its two compartments' surface points and the central
    point (notch or spines: the centroid between them) on the line joining them."""
    xs, e = _edge(outline, band, lower=lower)
    if len(xs) < 8:
        raise OutlineError(f"the {part} outline is too narrow to find the {sought}")
    a, b = _compartments(xs, e)
    x = _central_centroid(xs, e, a, b)
    return a, b, (x, float(line_at(a, b, x)))


def plafond(tibia: np.ndarray) -> dict[str, tuple[float, float]]:
    """Lateral border, malleolar corner and plafond level of a tibia's distal outline."""
    ys = tibia[:, 1]
    height = ys.max() - ys.min()
    bottom = ys.max()
    y0 = bottom - DISTAL_TIBIA * height
    region = tibia[tibia[:, 1] >= y0]
    xs = _xs(region[:, 0].min(), region[:, 0].max())
    e = envelope(tibia, xs, (y0, bottom + 1), lower=True)
    ok = np.isfinite(e)
    xs, e = xs[ok], e[ok]
    if len(xs) < 8:
        raise OutlineError("the distal tibia outline is too narrow to find the plafond")
    tip = int(np.argmax(e))  # the medial malleolus reaches lowest
    medial_right = xs[tip] > 0.5 * (xs[0] + xs[-1])
    if not medial_right:  # work as if the malleolus were on the right, then mirror back
        xs, e = -xs[::-1], e[::-1]
        tip = len(xs) - 1 - tip
    w = xs[-1] - xs[0]
    flat = (xs >= xs[0] + 0.10 * w) & (xs <= xs[0] + 0.50 * w)
    level = float(np.median(e[flat]))
    drop = e[tip] - level
    if drop <= 0:
        raise OutlineError("no medial malleolus below the plafond in the tibia outline")
    half = level + 0.5 * drop
    start = int(np.searchsorted(xs, xs[0] + 0.35 * w))
    beyond = np.flatnonzero(e[start : tip + 1] > half)
    corner = xs[start + beyond[0]] if len(beyond) else xs[tip]
    lateral = xs[0]
    mid = 0.5 * (lateral + corner)
    mid_level = float(np.interp(mid, xs, e))
    sign = 1.0 if medial_right else -1.0
    return {
        "lateral": (sign * lateral, level),
        "malleolar_corner": (sign * corner, level),
        "mid_plafond": (sign * mid, mid_level),
        "malleolus_tip": (sign * xs[tip], float(e[tip])),
    }


def derive_leg(
    femur: np.ndarray | None,
    tibia: np.ndarray | None,
    spacing_mm: float | None,
    side: str | None = None,
) -> LegLandmarks:
    """The hip, knee and ankle centres of one leg from its outlines (either may be None).

    ``spacing_mm`` (mm per pixel, square pixels) places the ankle half a joint space below
    the plafond; without it the ankle stays on the plafond and a note says so. ``side`` is
    taken from the femoral head (or the malleolus) when not given.
    """
    nan = np.full(2, np.nan)
    leg = LegLandmarks(side or "", nan.copy(), nan.copy(), nan.copy())
    femur = as_polygon(femur) if femur is not None else None
    tibia = as_polygon(tibia) if tibia is not None else None
    fem_notch = tib_spines = None
    if femur is not None:
        try:
            if not side:
                leg.side = femur_side(femur)
            leg.head = femoral_head(femur, leg.side)
            leg.hip = np.array(leg.head.centre)
        except OutlineError as exc:
            leg.notes.append(f"hip: {exc}")
        try:
            c = condyles(femur)
            leg.details.update(c)
            fem_notch = c
        except OutlineError as exc:
            leg.notes.append(f"knee: {exc}")
    if tibia is not None:
        try:
            p = plateau(tibia)
            leg.details.update(p)
            tib_spines = p
        except OutlineError as exc:
            leg.notes.append(f"knee: {exc}")
        try:
            a = plafond(tibia)
            leg.details.update(a)
            half = HALF_ANKLE_JOINT_MM / spacing_mm if spacing_mm else 0.0
            if not spacing_mm:
                leg.notes.append("ankle: no pixel spacing; placed on the plafond")
            leg.ankle = np.array([a["mid_plafond"][0], a["mid_plafond"][1] + half])
            if not leg.side:
                leg.side = "right" if a["malleolus_tip"][0] > a["lateral"][0] else "left"
        except OutlineError as exc:
            leg.notes.append(f"ankle: {exc}")
    if fem_notch is None or tib_spines is None:
        if femur is not None and tibia is not None:
            pass  # the note is already there
        else:
            leg.notes.append("knee: needs both the femur and the tibia outline")
        return leg
    xk = tib_spines["spines"][0]
    femoral_line = (fem_notch["condyle_a"], fem_notch["condyle_b"])
    tibial_line = (tib_spines["plateau_a"], tib_spines["plateau_b"])
    yk = 0.5 * (float(line_at(*femoral_line, xk)) + float(line_at(*tibial_line, xk)))
    leg.knee = np.array([xk, yk])
    return leg
