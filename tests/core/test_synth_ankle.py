"""The ankle and foot look like a real standing AP film's around the landmark.

A model trained on the first generator put real ankles 20–40 mm too low: there the brightest
edge near the ankle was the plafond line on the landmark, with the bright foot starting right
below it, while on real films the plafond line is faint and the image brightens 10–30 mm
*below* the joint, where the beam starts to run along the foot, which stands on the floor
64–88 mm below the joint line (``docs/ankle_investigation.md``). These tests measure that on
noise-free attenuation maps.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d, map_coordinates

from apn_core.synth import ankle
from apn_core.synth.accessories import Accessories, AccessoryPriors, render_accessories
from apn_core.synth.anatomy import AnatomyPriors, Leg, sample_anatomy
from apn_core.synth.draws import Draws
from apn_core.synth.phantom import MU_SOFT, render_phantom
from apn_core.synth.projection import Grid

SEEDS = range(6)


def _grid_around(leg: Leg, spacing: float = 1.0) -> Grid:
    return Grid(
        leg.ankle[0] - 80, leg.ankle[1] - 60, spacing, (round(200 / spacing), round(160 / spacing))
    )


def _along_leg(
    image: np.ndarray, grid: Grid, leg: Leg, v: np.ndarray, half: float = 10.0, floor=False
):
    """Mean of ``image`` across ±``half`` mm of the ankle, at ``v`` mm along the tibial axis
    (+ distal of the ankle centre), or straight down to the floor (``floor``)."""
    af = leg.floor_frame() if floor else leg.ankle_frame()
    uu, vv = np.meshgrid(np.arange(-half, half + 0.1, 1.0), v)
    xs = leg.ankle[0] + uu * af.lat[0] + vv * af.down[0]
    ys = leg.ankle[1] + uu * af.lat[1] + vv * af.down[1]
    rows, cols = (ys - grid.y0) / grid.spacing, (xs - grid.x0) / grid.spacing
    return map_coordinates(image, [rows, cols], order=1).mean(axis=1)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_image_brightens_below_the_tibiotalar_joint_not_at_the_plafond(seed):
    """Going distally through the ankle, the attenuation rises most below the joint line
    (talus, then the foot), and the plafond's line above it is a fraction of that rise — the
    first generator's plafond line was the strongest rise of all, 4–5 mm above the joint."""
    anatomy = sample_anatomy(Draws(seed, 3), AnatomyPriors())
    for leg in anatomy.legs.values():
        grid = _grid_around(leg)
        total = render_phantom(anatomy, None, grid).total()
        v = np.arange(-40.0, 81.0)
        profile = _along_leg(total, grid, leg, v)
        rise = np.gradient(gaussian_filter1d(profile, 1.5))
        near = (v >= -30) & (v <= 60)
        below = rise[(v >= 0) & (v <= 60)].max()
        plafond_line = rise[(v >= -8) & (v <= -1)].max()
        assert v[near][np.argmax(rise[near])] >= 0, (seed, leg.side)
        assert plafond_line < 0.75 * below, (seed, leg.side, plafond_line, below)
        assert profile[v == 30][0] > profile[v == 0][0] + 0.3, (seed, leg.side)  # the foot


@pytest.mark.parametrize("seed", SEEDS)
def test_the_foot_stands_on_the_floor_below_the_ankle(seed):
    """The soft tissue ends at the sole ``ankle_height`` below the joint line (64–88 mm at
    adult size), the calcaneus rests above it on the heel pad, and the foot is thin at the
    joint line and long (along the beam) near the floor."""
    anatomy = sample_anatomy(Draws(seed, 3), AnatomyPriors())
    for leg in anatomy.legs.values():
        assert 64 * leg.k <= leg.ankle_height <= 88 * leg.k
        grid = _grid_around(leg, 0.5)
        soft = np.zeros(grid.shape, np.float32)
        ankle.foot_soft_tissue(soft, grid, leg)
        v = np.arange(0.0, 120.0, 0.25)
        path = _along_leg(soft, grid, leg, v, half=3.0, floor=True)
        sole = v[np.flatnonzero(path > 1.0).max()]
        assert sole == pytest.approx(leg.ankle_height, abs=1.0), (seed, leg.side)
        assert path[v <= 2].max() < 0.5 * path[np.abs(v - (sole - 15)) < 1].mean()
        bone = np.zeros(grid.shape, np.float32)
        ankle.foot(bone, grid, leg)
        heel = _along_leg(bone, grid, leg, v, half=3.0, floor=True)
        lowest = v[np.flatnonzero(heel > 0.05).max()]
        assert 4.0 < sole - lowest < 25.0, (seed, leg.side, sole, lowest)


def test_the_platform_is_the_floor_under_both_feet():
    """A step's top is the lower foot's sole, with a lift up to the other sole; a lift alone
    runs from the shorter leg's sole down to the floor; the brightness is ``block_mu_t``."""
    pri = AccessoryPriors(blocks=1.0, block_mu_t=(1.0, 2.0))
    seen = set()
    for seed in range(12):
        draws = Draws(seed, 1)
        anatomy = sample_anatomy(draws, AnatomyPriors())
        acc = Accessories.sample(draws, pri, anatomy)
        _, _, top, bottom = acc.block
        soles = sorted((leg.sole() for leg in anatomy.legs.values()), key=lambda p: p[1])
        high, low = soles  # the shorter leg's sole is the higher one
        seen.add(acc.lift)
        assert top == pytest.approx(high[1] if acc.lift else low[1]), seed
        assert bottom == pytest.approx(low[1]) if acc.lift else bottom > top + 25
        assert 1.0 <= acc.block_mu_t <= 2.0
        grid = Grid(high[0] - 5, high[1] + 0.5, 1.0, (4, 10))  # just under the higher sole
        layer = np.zeros(grid.shape, np.float32)
        render_accessories(layer, grid, anatomy, acc)
        if low[1] - high[1] > 6:  # the shorter leg stands on a lift, not in the air
            assert float(layer.mean()) == pytest.approx(acc.block_mu_t, rel=1e-3), seed
    assert seen == {True, False}


def test_soft_tissue_is_continuous_from_leg_to_foot():
    """No gap or seam between the calf and the foot's soft tissue: the path changes smoothly
    (no step > 8 mm of tissue per mm) along the leg from 50 mm above to 60 mm below the joint."""
    anatomy = sample_anatomy(Draws(4, 3), AnatomyPriors())
    leg = anatomy.legs["right"]
    grid = _grid_around(leg, 2.0)
    soft = render_phantom(anatomy, None, grid).soft
    v = np.arange(-50.0, 60.0, 1.0)
    path = _along_leg(soft, grid, leg, v, half=4.0)
    assert np.abs(np.diff(path)).max() < 8.0
    assert MU_SOFT * path.max() > MU_SOFT * path[v < 0].max()  # the foot is the thicker
