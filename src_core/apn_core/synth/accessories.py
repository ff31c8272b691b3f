"""Things in the beam besides the patient: rulers, lead side markers, positioning blocks
and calibration balls. They are physical, drawn into the attenuation maps before the
exposure, and kept off the landmarks (they are not counted as occluders).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from apn_core.synth.anatomy import Anatomy
from apn_core.synth.draws import Draws, chance, pick, uniform
from apn_core.synth.hardware import MU_LEAD, MU_STEEL
from apn_core.synth.overlays import text_mask
from apn_core.synth.projection import Grid, ellipsoid, slab
from apn_core.synth.ruler import RULER_WIDTH_MM, render_ruler

RULER_PLACES = ("left", "right", "between", "lateral")
BALL_PLACES = ("hip", "knee", "edge")


@dataclass(frozen=True)
class AccessoryPriors:
    """Distributions of accessories in the beam.

    ruler: probability of a radio-opaque ruler, placed at one of ``ruler_places``: left or
        right image edge, between the legs, lateral (beside one thigh); it spans only part
        of the image in ``ruler_partial`` of cases.
    markers: probability of lead side markers (R near the image's left edge, the patient's
        right; L near the right edge; one or both, sometimes reversed), ``marker_mm`` high.
    blocks: probability of a positioning block under the feet: a step or platform whose top
        is the floor the lower sole stands on (with a lift under the other foot when the
        legs differ in length), or only a lift under the shorter leg standing on the floor.
    block_mu_t: the block's attenuation (μ·t through it): a wooden step … a dense platform
        that outshines the feet (as on many standing long-leg films).
    calibration_ball: probability of a metal calibration sphere (``ball_mm`` across) at
        one of ``ball_places``: beside a hip, beside a knee, or near the image's edge.
    magnification: range of the rulers' and balls' magnification on the detector (1 =
        lying on it; a ball at the level of the bone is ~1.1): their spacing *at the
        object* is the detector spacing / magnification (the calibration truth).
    ruler_styles: tick patterns drawn from (:data:`~apn_core.synth.ruler.RULER_STYLES`).
    occluded: probability that a lead strip lies across the ruler (10–25 % of its length)
        or over part of the ball.
    The last five are the calibration benchmark's (``benchmarks/spacing_object.py``);
    their defaults draw exactly what the generator drew before them.
    """

    ruler: float = 0.9
    ruler_places: tuple[str, ...] = ("left", "right")
    ruler_partial: float = 0.0
    markers: float = 0.0
    marker_mm: tuple[float, float] = (8.0, 16.0)
    blocks: float = 0.0
    block_mu_t: tuple[float, float] = (0.5, 2.5)
    calibration_ball: float = 0.0
    ball_mm: float = 25.0
    ball_places: tuple[str, ...] = ("hip",)
    magnification: tuple[float, float] = (1.0, 1.0)
    ruler_styles: tuple[str, ...] = ("cm",)
    occluded: float = 0.0


@dataclass
class Accessories:
    """The accessories of one radiograph (saved in the case metadata)."""

    ruler: str | None = None
    ruler_range: tuple[float, float] | None = None
    ruler_start: float = 0.0
    markers: list[tuple[str, float, float, float, bool]] = field(default_factory=list)
    """(letter, x and y as fractions of the image, height mm, reversed) per marker."""
    block: tuple[float, float, float, float] | None = None
    """(x0, x1, top, bottom) mm of the block."""
    lift: bool = False
    """The block is a lift under the shorter leg only (else a step under both feet)."""
    block_mu_t: float = 0.625
    ball: tuple[float, float] | None = None
    ball_mm: float = 25.0
    magnification: float = 1.0
    ruler_style: str = "cm"
    occluder: tuple[float, float, float, float] | None = None
    """A lead strip (x0, x1, y0, y1) mm over part of the ruler or ball."""

    @classmethod
    def sample(cls, draws: Draws, pri: AccessoryPriors, anatomy: Anatomy) -> Accessories:
        rng = draws("accessories")
        k = anatomy.scale
        legs = anatomy.legs
        place = pick(rng, pri.ruler_places or RULER_PLACES)
        partial = (float(rng.uniform(0, 0.5)), float(rng.uniform(0.6, 1.0)))
        start = float(rng.uniform(0, 10))
        ruler_on = chance(rng, pri.ruler)
        partial_on = chance(rng, pri.ruler_partial)
        markers = []
        size = uniform(rng, pri.marker_mm)
        which = pick(rng, ("both", "R", "L"))
        for letter, (lo, hi) in (("R", (0.03, 0.14)), ("L", (0.86, 0.97))):
            fx, fy = float(rng.uniform(lo, hi)), float(rng.uniform(0.03, 0.6))
            reversed_ = chance(rng, 0.1)
            if which in ("both", letter):
                markers.append((letter, fx, fy, size, reversed_))
        markers_on = chance(rng, pri.markers)
        ankles = np.array([legs["right"].ankle, legs["left"].ankle])
        soles = {side: leg.sole() for side, leg in legs.items()}
        floor = max(float(s[1]) for s in soles.values())  # the lower sole stands on it
        block = (
            float(ankles[:, 0].min() - 70 * k),
            float(ankles[:, 0].max() + 70 * k),
            floor,
            floor + float(rng.uniform(30, 90)),
        )
        lifted = min(("right", "left"), key=lambda s: float(soles[s][1]))  # shorter leg
        lift = chance(rng, 0.4)
        if lift:  # from the shorter leg's sole down to the floor
            a = soles[lifted]
            block = (float(a[0] - 60 * k), float(a[0] + 60 * k), float(a[1]), floor)
        block_on = chance(rng, pri.blocks)
        ball_side = pick(rng, ("right", "left"))
        hip = legs[ball_side].hip
        ball = (
            float(hip[0] + legs[ball_side].lateral * 110 * k),
            float(hip[1] + rng.uniform(-40, 60)),
        )
        ball_on = chance(rng, pri.calibration_ball)
        block_mu_t = uniform(rng, pri.block_mu_t)
        acc = cls(
            ruler=place if ruler_on else None,
            ruler_range=partial if partial_on else None,
            ruler_start=start,
            markers=markers if markers_on else [],
            block=block if block_on else None,
            lift=lift,
            block_mu_t=block_mu_t,
            ball=ball if ball_on else None,
            ball_mm=pri.ball_mm,
        )
        _sample_calibration(draws("accessories.calibration"), pri, anatomy, acc)
        return acc


def _sample_calibration(
    rng: np.random.Generator, pri: AccessoryPriors, anatomy: Anatomy, acc: Accessories
) -> None:
    """The calibration benchmark's draws, from their own stream (the other accessories'
    draws, and so every existing image, are unchanged)."""
    acc.magnification = uniform(rng, pri.magnification)
    acc.ruler_style = pick(rng, pri.ruler_styles or ("cm",))
    place = pick(rng, pri.ball_places or ("hip",))
    side = pick(rng, ("right", "left"))
    leg = anatomy.legs[side]
    k = anatomy.scale
    if acc.ball is not None and place == "knee":
        acc.ball = (
            float(leg.knee[0] + leg.lateral * 90 * k),
            float(leg.knee[1] + rng.uniform(-60, 60)),
        )
    elif acc.ball is not None and place == "edge":
        acc.ball = (
            float(leg.hip[0] + leg.lateral * 170 * k),
            float(leg.hip[1] + rng.uniform(-50, 400)),
        )
    fraction, length = float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 0.25))
    occluded = chance(rng, pri.occluded)
    if occluded and acc.ruler is not None:
        acc.occluder = (fraction, length, 0.0, 0.0)  # resolved to mm when rendered
    elif occluded and acc.ball is not None:
        r = acc.ball_mm * acc.magnification / 2
        dx = float(rng.uniform(-0.6, 0.6)) * r
        acc.occluder = (
            acc.ball[0] + dx - 3 * r,
            acc.ball[0] + dx - 0.2 * r,
            acc.ball[1] - 3 * r,
            acc.ball[1] + 3 * r,
        )


def ruler_x_mm(grid: Grid, anatomy: Anatomy, acc: Accessories) -> float:
    """The ruler's left edge (mm) for its place."""
    width_mm = grid.shape[1] * grid.spacing
    legs = anatomy.legs
    return {
        "left": grid.x0 + 15.0,
        "right": grid.x0 + width_mm - 35.0,
        "between": float((legs["right"].knee[0] + legs["left"].knee[0]) / 2 - 10.0),
        "lateral": float(legs["left"].hip[0] + 95 * anatomy.scale),
    }[acc.ruler or "left"]


def ruler_rows_mm(grid: Grid, acc: Accessories) -> tuple[float, float] | None:
    """The ruler's extent along the image (mm), or None for the full height."""
    if acc.ruler_range is None:
        return None
    height_mm = grid.shape[0] * grid.spacing
    return (grid.y0 + acc.ruler_range[0] * height_mm, grid.y0 + acc.ruler_range[1] * height_mm)


def occluder_box_mm(grid: Grid, anatomy: Anatomy, acc: Accessories):
    """The lead strip (x0, x1, y0, y1) mm, or None."""
    if acc.occluder is None:
        return None
    if acc.ruler is None:
        return acc.occluder
    fraction, length = acc.occluder[0], acc.occluder[1]
    y0, y1 = ruler_rows_mm(grid, acc) or (grid.y0, grid.y0 + grid.shape[0] * grid.spacing)
    x = ruler_x_mm(grid, anatomy, acc)
    top = y0 + fraction * (y1 - y0)
    return (x - 5.0, x + RULER_WIDTH_MM * acc.magnification + 5.0, top, top + length * (y1 - y0))


def render_accessories(layer: np.ndarray, grid: Grid, anatomy: Anatomy, acc: Accessories) -> None:
    """Draw the accessories into ``layer`` (μ·t)."""
    s = grid.spacing
    width_mm, height_mm = grid.shape[1] * s, grid.shape[0] * s
    if acc.ruler is not None:
        render_ruler(
            layer,
            grid,
            ruler_x_mm(grid, anatomy, acc),
            grid.y0 + acc.ruler_start,
            ruler_rows_mm(grid, acc),
            mirrored=acc.ruler == "left",
            style=acc.ruler_style,
            scale=acc.magnification,
        )
    for letter, fx, fy, size, reversed_ in acc.markers:
        x, y = grid.x0 + fx * width_mm, grid.y0 + fy * height_mm
        _marker(layer, grid, letter, x, y, size, reversed_)
    if acc.block is not None:
        _block(layer, grid, anatomy, acc)
    if acc.ball is not None:
        r = acc.ball_mm * acc.magnification / 2
        ellipsoid(layer, grid, acc.ball, (r, r), r, MU_STEEL)
    box = occluder_box_mm(grid, anatomy, acc)
    if box is not None:
        x0, x1, y0, y1 = box
        slab(layer, grid, ((x0 + x1) / 2, y0), ((x0 + x1) / 2, y1), (x1 - x0) / 2, 1.0, MU_LEAD)


def _marker(layer, grid: Grid, letter: str, x: float, y: float, size: float, reversed_: bool):
    """A lead letter in a plastic holder, ``size`` mm high, centred at (x, y) mm."""
    s = grid.spacing
    mask = text_mask(letter, max(round(size / s), 4))
    if reversed_:
        mask = mask[:, ::-1]
    h, w = mask.shape
    holder = size * 0.35
    slab(
        layer,
        grid,
        (x, y - size / 2 - holder),
        (x, y + size / 2 + holder),
        w * s / 2 + holder,
        8.0,
        0.012,
    )
    c, r = round((x - grid.x0) / s - w / 2), round((y - grid.y0) / s - h / 2)
    r0, c0 = max(r, 0), max(c, 0)
    r1, c1 = min(r + h, grid.shape[0]), min(c + w, grid.shape[1])
    if r1 <= r0 or c1 <= c0:
        return
    layer[r0:r1, c0:c1] += 1.5 * MU_LEAD * mask[r0 - r : r1 - r, c0 - c : c1 - c]


def calibration_truth(
    grid: Grid, anatomy: Anatomy, acc: Accessories, collimated: np.ndarray | None
) -> dict:
    """What a calibration-object estimate should find (saved in the phantom record).

    ``spacing_mm`` at the object is the detector spacing / magnification; ``ruler_mm`` is
    the length of ruler whose ticks are left visible (inside the image, not behind the
    collimator blades or the lead strip), ``ball_visible`` the fraction of the ball's outline so visible."""
    s = grid.spacing
    rows, cols = grid.shape
    box = occluder_box_mm(grid, anatomy, acc)
    out: dict = {
        "ruler": acc.ruler is not None,
        "ball": acc.ball is not None,
        "magnification": acc.magnification,
        "spacing_mm": s / acc.magnification,
        "ruler_style": acc.ruler_style if acc.ruler is not None else None,
        "ball_mm": acc.ball_mm if acc.ball is not None else None,
        "occluded": box is not None,
        "ruler_mm": 0.0,
        "ball_visible": 0.0,
    }
    if acc.ruler is not None:
        # the ticks' first 4 mm (the short ones' length) must be on the film
        inset = 4.0 if acc.ruler != "left" else RULER_WIDTH_MM - 4.0
        col = round((ruler_x_mm(grid, anatomy, acc) + inset * acc.magnification - grid.x0) / s)
        y0, y1 = ruler_rows_mm(grid, acc) or (grid.y0, grid.y0 + rows * s)
        ys = grid.y0 + np.arange(rows) * s
        seen = (ys >= y0) & (ys <= y1) & (0 <= col < cols)
        if collimated is not None and 0 <= col < cols:
            seen &= ~collimated[:, col]
        if box is not None:
            seen &= ~((ys >= box[2]) & (ys <= box[3]))
        out["ruler_mm"] = float(seen.sum() * s)
    if acc.ball is not None:
        r = acc.ball_mm * acc.magnification / 2
        angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        px = acc.ball[0] + r * np.cos(angles)
        py = acc.ball[1] + r * np.sin(angles)
        c = np.round((px - grid.x0) / s).astype(int)
        i = np.round((py - grid.y0) / s).astype(int)
        seen = (c >= 0) & (c < cols) & (i >= 0) & (i < rows)
        if collimated is not None:
            seen[seen] &= ~collimated[i[seen], c[seen]]
        if box is not None:
            seen &= ~((px >= box[0]) & (px <= box[1]) & (py >= box[2]) & (py <= box[3]))
        out["ball_visible"] = float(seen.mean())
    return out


def _block(layer: np.ndarray, grid: Grid, anatomy: Anatomy, acc: Accessories) -> None:
    """The block, 250 mm deep; on a step, a lift up to any sole above it (the shorter leg)."""
    depth = 250.0
    weight = acc.block_mu_t / depth
    x0, x1, top, bottom = acc.block
    slabs = [((x0 + x1) / 2, top, bottom, (x1 - x0) / 2)]
    if not acc.lift:
        for leg in anatomy.legs.values():
            sole = leg.sole()
            if sole[1] < top - 1.0 and leg.amputation is None:
                slabs.append((float(sole[0]), float(sole[1]), top, 55 * anatomy.scale))
    for x, y0, y1, half in slabs:
        slab(layer, grid, (x, y0), (x, y1), half, depth, weight)
