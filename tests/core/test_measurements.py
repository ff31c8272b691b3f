"""Alignment measurements against hand-computed geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apn_core.measurements import alignment, leg_alignment
from apn_core.synth.anatomy import sample_anatomy


def test_straight_leg_is_neutral():
    m = leg_alignment((100, 0), (100, 400), (100, 800), (1.0, 1.0), "right")
    assert m.hka_deg == pytest.approx(0.0) and m.mad_mm == pytest.approx(0.0)
    assert (m.length_mm, m.femur_mm, m.tibia_mm) == (800, 400, 400)


def test_hand_computed_varus_right_leg():
    # right leg (image left): knee 30 mm lateral (−x) of the straight hip–ankle line
    hip, knee, ankle = (100.0, 0.0), (70.0, 400.0), (100.0, 800.0)
    m = leg_alignment(hip, knee, ankle, (1.0, 1.0), "right")
    expected = 2 * math.degrees(math.atan2(30, 400))  # 180 − angle at the knee
    assert m.hka_deg == pytest.approx(expected) and m.hka_deg > 0  # varus
    assert m.mad_mm == pytest.approx(30.0)
    mirrored = leg_alignment(hip, (130.0, 400.0), ankle, (1.0, 1.0), "right")
    assert mirrored.hka_deg == pytest.approx(-expected) and mirrored.mad_mm == pytest.approx(
        -30.0
    )  # valgus
    left = leg_alignment(
        hip, (130.0, 400.0), ankle, (1.0, 1.0), "left"
    )  # +x is lateral for the left leg
    assert left.hka_deg == pytest.approx(expected)


def test_pixels_are_converted_to_mm_before_angles():
    # 0.5 mm rows, 0.25 mm columns: 120 px lateral = 30 mm, 800 px tall = 400 mm
    m = leg_alignment((400, 0), (280, 800), (400, 1600), (0.5, 0.25), "right")
    assert m.mad_mm == pytest.approx(30.0)
    assert m.hka_deg == pytest.approx(2 * math.degrees(math.atan2(30, 400)))


def test_missing_landmark_gives_nan_and_lld():
    xy = np.array([[100, 0], [300, 0], [100, 400], [300, 400], [np.nan, np.nan], [300, 790]], float)
    out = alignment(xy, (1.0, 1.0))
    assert math.isnan(out["right"]["hka_deg"]) and math.isnan(out["lld_mm"])
    assert out["left"]["length_mm"] == pytest.approx(790.0)


@pytest.mark.parametrize("seed", range(6))
def test_matches_the_phantom_ground_truth(seed):
    anatomy = sample_anatomy(np.random.default_rng([seed, 0]))
    out = alignment(anatomy.landmarks_mm(), (1.0, 1.0))  # landmarks in mm = pixels of 1 mm
    for side, leg in anatomy.legs.items():
        assert out[side]["hka_deg"] == pytest.approx(leg.hka_deviation_deg, abs=1e-6)
        assert out[side]["femur_mm"] == pytest.approx(leg.femur_length, rel=1e-3)
