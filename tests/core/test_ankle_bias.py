"""benchmarks/ankle_bias.py: signs of the along/across offsets, and the per-landmark summary."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from ankle_bias import leg_axes, summary
from ankle_offsets_plot import zones

NAMES = ("femur_right", "femur_left", "knee_right", "knee_left", "ankle_right", "ankle_left")


def _truth(knee_r, ankle_r, knee_l, ankle_l) -> np.ndarray:
    xy = np.full((6, 2), np.nan)
    xy[2], xy[4], xy[3], xy[5] = knee_r, ankle_r, knee_l, ankle_l
    return xy


@pytest.mark.parametrize("tilt", [0.0, 8.0])
def test_distal_and_lateral_are_positive_on_both_legs(tilt):
    """A point below the truth ankle is + along; one towards the image edge of its own leg
    (the patient's right leg is on the image's left) is + across, whatever the tibia's tilt."""
    dx = np.tan(np.deg2rad(tilt)) * 400
    truth = _truth((100, 600), (100 + dx, 1000), (300, 600), (300 - dx, 1000))
    for side, outward in (("right", -1.0), ("left", 1.0)):
        d, lat = leg_axes(truth, NAMES, side)
        assert d[1] > 0.9 and np.hypot(*d) == pytest.approx(1.0)
        assert np.dot(d, lat) == pytest.approx(0.0, abs=1e-12)
        assert np.sign(lat[0]) == outward


def test_leg_axes_fall_back_to_straight_down_without_a_knee():
    truth = _truth((np.nan, np.nan), (100, 1000), (300, 600), (300, 1000))
    d, lat = leg_axes(truth, NAMES, "right")
    np.testing.assert_allclose(d, [0, 1])
    np.testing.assert_allclose(lat, [-1, 0])


def test_summary_means_medians_and_pck():
    rows = [
        {
            "landmark": "ankle_right",
            "along_mm": a,
            "across_mm": 1.0,
            "error_mm": abs(a),
            "reported": True,
        }
        for a in (-4.0, 2.0, 30.0, 40.0)
    ]
    t = summary(rows)["ankle_right"]
    assert (t["n"], t["reported"]) == (4, 4)
    assert t["along_mean"] == pytest.approx(17.0)
    assert t["along_median"] == pytest.approx(16.0)
    assert t["pck10"] == pytest.approx(50.0)
    assert zones(np.array([-4.0, 2.0, 30.0, 40.0])) == [0.0, 50.0, 25.0, 25.0]
