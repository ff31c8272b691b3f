"""Review flags and reasons; measurements blanked (never NaN) when a landmark is flagged or absent."""

from __future__ import annotations

import json

import numpy as np

from apn_core.inference.plausibility import Finding
from apn_core.inference.review import (
    blank_measurements,
    review_image,
    review_landmarks,
    unreliable_measurements,
)
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.measurements import alignment

NAMES = DEFAULT_LANDMARKS.names
SPACING = (0.5, 0.5)
ADULT_PX = (
    np.array(
        [
            [100.0, 100.0],
            [280.0, 100.0],
            [114.0, 540.0],
            [266.0, 540.0],
            [116.0, 910.0],
            [264.0, 910.0],
        ]
    )
    / 0.5
)


def test_low_confidence_and_absent_but_likely_present():
    present = np.array([True, True, True, True, True, False])
    p_within = np.array([0.99, 0.31, 0.42, 0.43, np.nan, np.nan])
    p_present = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.62])
    r = review_image(NAMES, present, p_within, 0.42, p_present, 0.5)
    assert r.needs_review.tolist() == [False, True, True, False, False, True]
    assert r.reasons[1] == "low confidence 0.31"
    assert r.reasons[2] == "low confidence 0.42"  # at the threshold: flagged
    assert r.reasons[5] == "reported absent, but 0.62 likely in the image"
    assert r.reasons[0] == "" and r.image_needs_review
    assert r.summary() == {
        "needs_review": True,
        "n_flagged": 3,
        "flagged": ["femur_left", "knee_right", "ankle_left"],
        "image_reasons": [],
    }


def test_without_calibration_only_plausibility_flags():
    present = np.ones(6, bool)
    pinned = Finding(
        "ratio_right",
        "femur_right 0.98× the tibia",
        ("femur_right", "knee_right", "ankle_right"),
        "knee_right",
    )
    both = Finding(
        "symmetry_tibia", "tibia right 370 mm vs left 410 mm", ("ankle_right", "ankle_left")
    )
    scale = Finding("scale", "leg_right 2833 mm is too long", NAMES)
    r = review_image(NAMES, present, findings=[pinned, both])
    assert r.needs_review.tolist() == [False, False, True, False, True, True]
    assert r.reason("knee_right") == "femur_right 0.98× the tibia"
    assert r.reason("ankle_left") == "tibia right 370 mm vs left 410 mm"
    unsure = np.array([0.9, 0.2, 0.2, 0.2, 0.2, 0.2])  # one sure: the film is read
    r = review_image(NAMES, present, unsure, 0.5, findings=[pinned, scale])
    assert (
        r.reason("knee_right")
        == "low confidence 0.20; femur_right 0.98× the tibia; leg_right 2833 mm is too long"
    )
    assert r.image_reasons == ["leg_right 2833 mm is too long"]


def test_outputs_are_json_friendly():
    present = np.array([True] * 5 + [False])
    r = review_image(
        NAMES,
        present,
        np.array([0.9, 0.1, 0.9, 0.9, 0.9, np.nan]),
        0.3,
        findings=[Finding("x", "why", ("ankle_left",))],
    )
    text = json.dumps(r.to_dict(), allow_nan=False)
    assert '"review_reason": "low confidence 0.10"' in text
    assert r.rows()[1] == {
        "landmark": "femur_left",
        "needs_review": 1,
        "review_reason": "low confidence 0.10",
    }
    assert r.rows()[5]["needs_review"] == 0  # absent: a finding about it does not flag it


def test_measurements_of_flagged_or_absent_landmarks_are_blanked_with_reasons():
    xy = ADULT_PX.copy()
    xy[NAMES.index("ankle_left")] = np.nan
    present = np.isfinite(xy).all(axis=1)
    align = alignment(xy, SPACING)
    assert np.isnan(align["left"]["hka_deg"])  # today's dict carries NaN
    r = review_image(NAMES, present, np.array([0.9, 0.9, 0.1, 0.9, 0.9, np.nan]), 0.3)
    values, reasons = blank_measurements(align, r)
    assert reasons == {
        "right.hka_deg": "knee_right needs review",
        "right.mad_mm": "knee_right needs review",
        "right.femur_mm": "knee_right needs review",
        "right.tibia_mm": "knee_right needs review",
        "left.hka_deg": "ankle_left absent",
        "left.mad_mm": "ankle_left absent",
        "left.length_mm": "ankle_left absent",
        "left.tibia_mm": "ankle_left absent",
        "lld_mm": "ankle_left absent",
    }
    assert values["right"]["length_mm"] == align["right"]["length_mm"]  # hip–ankle: both fine
    assert values["left"]["femur_mm"] == align["left"]["femur_mm"]
    assert (
        values["right"]["hka_deg"] is None
        and values["lld_mm"] is None
        and values["right"]["side"] == "right"
    )
    json.dumps(values, allow_nan=False)  # never NaN
    all_present = review_image(NAMES, np.ones(6, bool))
    assert unreliable_measurements(alignment(ADULT_PX, SPACING), all_present) == {}


def test_a_displaced_landmark_is_flagged_end_to_end_with_its_reason():
    xy = ADULT_PX.copy()
    xy[NAMES.index("knee_left"), 1] += 40.0 / SPACING[0]  # a correct prediction moved 40 mm
    r = review_landmarks(xy, np.ones(6, bool), SPACING)
    assert r.needs_review[NAMES.index("knee_left")]
    assert "a knee centre is misplaced" in r.reason("knee_left")
    values, reasons = blank_measurements(alignment(xy, SPACING), r)
    assert values["left"]["hka_deg"] is None and "knee_left needs review" in reasons["left.hka_deg"]
    assert not review_landmarks(ADULT_PX, np.ones(6, bool), SPACING).image_needs_review


def test_review_landmarks_uses_a_calibrator():
    from apn_core.inference.calibration import FEATURES, Calibrator, ScoreModel

    model = ScoreModel(
        ("peak",), np.zeros(1), np.ones(1), np.array([10.0]), -5.0
    )  # p = sigmoid(10·peak − 5)
    cal = Calibrator(tolerance_mm=10.0, models=[model], threshold=0.5)
    table = np.full((6, len(FEATURES)), np.nan)
    table[:, 0] = [1.0, 1.0, 0.2, 1.0, 1.0, 1.0]
    r = review_landmarks(ADULT_PX, np.ones(6, bool), SPACING, features=table, calibrator=cal)
    assert r.needs_review.tolist() == [False, False, True, False, False, False]
    assert r.reason("knee_right") == "low confidence 0.05"


def test_an_image_with_no_landmark_needs_review_with_one_whole_image_reason():
    """Issue 20: a chest or hand film — every landmark (rightly) absent, none flagged as
    likely present, and the image itself named as the problem."""
    from apn_core.inference.review import review_landmarks

    review = review_landmarks(np.full((6, 2), np.nan), np.zeros(6, bool), (0.5, 0.5))
    assert not review.needs_review.any()
    assert review.image_needs_review
    assert len(review.image_reasons) == 1 and "no landmark found" in review.image_reasons[0]


def test_no_landmark_image_claims_no_landmark_likely_present():
    """Issue 20: the shipped model called each absent landmark of a chest film "0.91-1.00
    likely in the image": a presence probability calibrated on long-leg films does not
    apply to an image with no landmark at all; the image is the one finding."""
    from apn_core.inference.plausibility import check_plausibility
    from apn_core.inference.review import review_image
    from apn_core.landmarks import DEFAULT_LANDMARKS

    absent = np.zeros(6, bool)
    findings = check_plausibility(np.full((6, 2), np.nan), absent, (0.5, 0.5), DEFAULT_LANDMARKS)
    high = np.full(6, 0.95)
    review = review_image(DEFAULT_LANDMARKS.names, absent, None, None, high, 0.5, findings)
    assert not review.needs_review.any() and not any(review.reasons)
    assert np.isnan(review.p_present).all()
    assert review.image_needs_review
    one_found = absent.copy()
    one_found[0] = True  # a film with one landmark in view: absent ones may be likely present
    xy = np.full((6, 2), np.nan)
    xy[0] = (100.0, 100.0)
    findings = check_plausibility(xy, one_found, (0.5, 0.5), DEFAULT_LANDMARKS)
    review = review_image(DEFAULT_LANDMARKS.names, one_found, None, None, high, 0.5, findings)
    assert "likely in the image" in review.reasons[1]


def test_an_image_whose_only_landmarks_are_low_confidence_is_a_whole_image_finding():
    """A hand-like or noise image made the shipped model place one femoral head at
    p_within 0.09–0.36 (flagged) and call an absent ankle "0.56 likely in the image": with
    no landmark found with confidence, the image is the finding, as when none is found."""
    from apn_core.inference.plausibility import check_plausibility

    one_found = np.zeros(6, bool)
    one_found[1] = True
    xy = np.full((6, 2), np.nan)
    xy[1] = (194.0, 294.0)
    findings = check_plausibility(xy, one_found, (0.2, 0.2), DEFAULT_LANDMARKS)
    pw = np.array([np.nan, 0.32, np.nan, np.nan, np.nan, np.nan])
    pp = np.array([0.3, np.nan, 0.1, 0.1, 0.56, 0.3])
    review = review_image(NAMES, one_found, pw, 0.6, pp, 0.5, findings)
    assert not any("likely in the image" in r for r in review.reasons)
    assert np.isnan(review.p_present).all()
    assert len(review.image_reasons) == 1
    assert review.image_reasons[0].startswith("no landmark found with confidence")
    assert review.reason("femur_left").startswith("low confidence 0.32")
    # one confident landmark is a film the model reads: absent ones may be likely present
    confident = review_image(NAMES, one_found, pw * 0 + 0.9, 0.6, pp, 0.5, findings)
    assert confident.image_reasons == []
    assert "0.56 likely in the image" in confident.reason("ankle_right")
