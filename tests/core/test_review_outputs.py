"""Review flags reach every output (issue 14): the Prediction, landmarks.csv, the Slicer
markups, measurements.csv (empty cell + note, never nan) and the predict summary.

The network is replaced by an oracle that puts each landmark where it is told, so a landmark
displaced by 40 mm is a real prediction the plausibility check has to catch."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from apn_core.annotations import ImageLabels, write_markups
from apn_core.inference.outputs import LANDMARK_COLUMNS
from apn_core.landmarks import DEFAULT_LANDMARKS
from tests.core.test_inference import oracle_predictor

SPACING = 0.5  # mm/px
# a plausible adult: hips, knees, ankles (x, y) px at 0.5 mm/px (image 2000 × 760)
TRUTH = np.array(
    [[200, 160], [560, 160], [230, 1040], [530, 1040], [250, 1840], [510, 1840]], float
)


@pytest.fixture
def image() -> np.ndarray:
    return np.arange(2000 * 760, dtype=np.float32).reshape(2000, 760)  # not blank


def test_a_plausible_prediction_is_not_flagged(image):
    result = oracle_predictor(TRUTH, image.shape).predict(image, SPACING)
    assert not result.needs_review.any() and result.review_reason == [""] * 6
    assert not result.image_needs_review
    assert all(v is not None for v in result.alignment["right"].values())


def test_a_knee_moved_40_mm_is_flagged_and_its_measurements_emptied(image):
    moved = TRUTH.copy()
    moved[2, 1] += 40 / SPACING  # knee_right 40 mm down the leg
    result = oracle_predictor(moved, image.shape).predict(image, SPACING)
    i = DEFAULT_LANDMARKS.index("knee_right")
    assert result.needs_review[i] and result.review_reason[i]
    assert result.image_needs_review and "knee_right" in result.review["flagged"]
    right = result.alignment["right"]
    assert right["hka_deg"] is None and right["femur_mm"] is None
    assert "knee_right needs review" in result.alignment_notes["right.hka_deg"]
    rows = {r["landmark"]: r for r in result.as_rows()}
    assert rows["knee_right"]["needs_review"] is True and rows["knee_right"]["review_reason"]


def test_flags_reach_the_csv_the_markups_and_the_summary(image, tmp_path, monkeypatch):
    from apn_core.inference import jobs
    from apn_core.io import write_tiff

    moved = TRUTH.copy()
    moved[2, 1] += 40 / SPACING
    predictor = oracle_predictor(moved, image.shape)
    monkeypatch.setattr("apn_core.inference.Predictor.load", lambda *a, **k: predictor)
    write_tiff(tmp_path / "in" / "leg.tif", image.astype(np.uint16), (SPACING, SPACING))
    summary = jobs.run_predict_job([tmp_path / "in"], tmp_path / "out")
    assert summary.needs_review and summary.needs_review[0][0] == "leg.tif"
    assert "1 image(s) need review" in summary.line()
    out = tmp_path / "out"
    rows = list(csv.DictReader(io.StringIO((out / "landmarks.csv").read_text())))
    assert tuple(rows[0]) == LANDMARK_COLUMNS
    flagged = {r["landmark"]: r for r in rows if r["needs_review"] == "1"}
    assert "knee_right" in flagged and flagged["knee_right"]["review_reason"]
    measurements = (out / "measurements.csv").read_text()
    assert "nan" not in measurements.lower()
    right = next(r for r in csv.DictReader(io.StringIO(measurements)) if r["side"] == "right")
    assert right["hka_deg"] == "" and "knee_right needs review" in right["note"]
    markups = json.loads((out / "leg.tif.mrk.json").read_text())
    points = {p["label"]: p for p in markups["markups"][0]["controlPoints"]}
    assert "needs review:" in points["knee_right"]["description"]
    assert "needs review" not in points["femur_right"]["description"]


def test_markups_without_notes_say_nothing_of_review(tmp_path):
    labels = ImageLabels("x", TRUTH, np.ones(6, bool))
    path = write_markups(tmp_path / "m.mrk.json", labels, DEFAULT_LANDMARKS, (SPACING, SPACING))
    points = json.loads(path.read_text())["markups"][0]["controlPoints"]
    assert all("review" not in p["description"] for p in points)


def test_a_landmark_reported_absent_keeps_its_uncalibrated_confidence():
    """The calibration describes present landmarks (P(within 10 mm)); found in review: a
    landmark reported absent (here: a presence threshold above every peak, as a coinciding
    pair's weaker twin is) showed the calibrated confidence 1.000 in landmarks.csv."""
    from apn_core.inference import Predictor
    from apn_core.synth import SynthConfig, generate_case

    case = generate_case(7, 0, SynthConfig(spacing_mm=1.0, families=("dr-clinic",)))
    predictor = Predictor.load("default")
    assert predictor.calibrator is not None
    sure = predictor.predict(case.bone_bright, spacing=case.spacing)
    assert sure.present.all() and (sure.confidence == sure.p_within.astype(np.float32)).all()
    from apn_core.inference.confidence import FEATURES

    peaks = np.sort(sure.features[:, FEATURES.index("peak")])
    cut = float(peaks[-1] + peaks[-2]) / 2  # all but the strongest reported absent: with none
    predictor.config = predictor.config.replace(loss={"presence_threshold": cut})  # found at
    unsure = predictor.predict(case.bone_bright, spacing=case.spacing)  # all, no presence claims
    peak, c = (unsure.features[:, FEATURES.index(f)] for f in ("peak", "c"))
    absent = peak < cut
    assert absent.sum() >= 4 and not unsure.present[absent].any()
    np.testing.assert_allclose(unsure.confidence[absent], np.sqrt(peak * c)[absent], rtol=1e-5)
    # reported absent but probably there: flagged, and its candidate is where it would be
    flagged = unsure.needs_review & absent
    assert flagged.any() and all(
        "absent" in unsure.review_reason[i] for i in np.flatnonzero(flagged)
    )
    np.testing.assert_allclose(unsure.second_xy[flagged], sure.xy[flagged], atol=1e-6)


def test_the_summary_names_a_wrong_spacing_for_the_image(image, tmp_path, monkeypatch):
    """Found in review: the summary listed only flagged landmarks, never "check the pixel
    spacing" — the reason that concerns every measurement of the image."""
    from apn_core.inference import jobs
    from apn_core.io import write_tiff

    predictor = oracle_predictor(TRUTH, image.shape)
    monkeypatch.setattr("apn_core.inference.Predictor.load", lambda *a, **k: predictor)
    wrong = SPACING * 3.5  # 0.143 mm/px files read as 0.5, the other way round
    write_tiff(tmp_path / "in" / "leg.tif", image.astype(np.uint16), (wrong, wrong))
    summary = jobs.run_predict_job([tmp_path / "in"], tmp_path / "out")
    ((name, what),) = summary.needs_review
    assert name == "leg.tif" and "pixel spacing" in what
    assert "pixel spacing" in "\n".join(summary.details())
