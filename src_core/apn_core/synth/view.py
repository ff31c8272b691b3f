"""Field of view: where the detector sits relative to the patient (mm).

Pelvis to feet by default; tight or wide, off-centre, with the foot cut anywhere below
the ankle; or a restricted view that leaves some landmarks outside (written absent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apn_core.synth.anatomy import Anatomy
from apn_core.synth.draws import Draws, chance, pick, uniform
from apn_core.synth.projection import Grid

RESTRICTIONS = ("no-hips", "no-ankles", "one-leg")
MARGIN_MM = 25.0  # present landmarks stay at least this far inside the image sideways


@dataclass(frozen=True)
class ViewPriors:
    """Distributions of the field of view (mm, ranges uniform; scaled by body size).

    top_mm: image top above the higher femoral head centre (at least the head radius + 10).
    bottom_mm: image bottom below the lower ankle centre: small values cut the foot just
        below the ankle, large ones show whole feet and the floor or platform under them
        (at least 10; real standing films: 93–151 mm, interquartile).
    width_mm: image width of an adult: tight (thighs cut) … wide (air beside the legs).
    off_centre_mm: SD of the legs' sideways offset in the image (landmarks stay inside).
    restricted: probability of a restricted view, of a kind from ``restrictions``: no-hips,
        no-ankles, one-leg (landmarks outside the image are written absent).
    """

    top_mm: tuple[float, float] = (90.0, 160.0)
    bottom_mm: tuple[float, float] = (60.0, 140.0)
    width_mm: tuple[float, float] = (340.0, 400.0)
    off_centre_mm: float = 8.0
    restricted: float = 0.1
    restrictions: tuple[str, ...] = RESTRICTIONS


@dataclass
class View:
    """The field of view of one radiograph (saved in the case metadata)."""

    restriction: str | None
    top_mm: float
    bottom_mm: float
    width_mm: float
    offset_mm: float


def sample_view(
    draws: Draws, pri: ViewPriors, anatomy: Anatomy, spacing: float
) -> tuple[Grid, View]:
    """Detector placement for ``anatomy`` at ``spacing`` mm/px."""
    rng = draws("view")
    k = anatomy.scale
    truth = anatomy.landmarks_mm()
    hips, ankles = truth[0:2], truth[4:6]
    head = max(leg.head_radius for leg in anatomy.legs.values())
    top_margin = max(uniform(rng, pri.top_mm) * k, head + 10.0)
    bottom_margin = max(uniform(rng, pri.bottom_mm) * k, 10.0)
    width = uniform(rng, pri.width_mm) * k
    offset = float(np.clip(rng.normal(0.0, 1.0), -3, 3)) * pri.off_centre_mm
    kind = pick(rng, pri.restrictions or RESTRICTIONS)
    restricted = chance(rng, pri.restricted) and bool(pri.restrictions)
    cut_draw = float(rng.uniform(0.0, 1.0))
    leg_draw = int(rng.integers(0, 2))
    one_leg_width = float(rng.uniform(170, 230)) * max(k, 0.6)

    xs = truth[:, 0]
    width = max(width, float(xs.max() - xs.min()) + 2 * MARGIN_MM)
    room = (width - float(xs.max() - xs.min())) / 2 - MARGIN_MM
    cx = float((xs.max() + xs.min()) / 2 + np.clip(offset, -room, room))
    top = float(hips[:, 1].min() - top_margin)
    bottom = float(ankles[:, 1].max() + bottom_margin)
    restriction = kind if restricted else None
    if restriction == "no-hips":
        top = float(hips[:, 1].max() + 15 + cut_draw * 185)
    elif restriction == "no-ankles":
        bottom = float(ankles[:, 1].min() - 15 - cut_draw * 135)
    elif restriction == "one-leg":
        cx = float(np.mean(truth[leg_draw::2, 0]))
        width = one_leg_width
    rows = max(round((bottom - top) / spacing), 8)
    cols = max(round(width / spacing), 8)
    grid = Grid(x0=cx - width / 2, y0=top, spacing=spacing, shape=(rows, cols))
    view = View(
        restriction,
        round(top_margin, 1),
        round(bottom_margin, 1),
        round(width, 1),
        round(cx - float((xs.max() + xs.min()) / 2), 1),
    )
    return grid, view
