"""Anatomical plausibility: correct legs pass; displaced landmarks, spacing mix-ups,
mirrored and upside-down images are flagged with their reason."""

from __future__ import annotations

import numpy as np
import pytest

from apn_core.inference.plausibility import Finding, Ranges, check_plausibility, pin
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet

NAMES = DEFAULT_LANDMARKS.names
SPACING = (0.5, 0.5)
# an adult standing AP (mm): hips 180 mm apart, femur 440, tibia 370, ~2° varus each side
ADULT_MM = np.array(
    [
        [100.0, 100.0],
        [280.0, 100.0],  # femur_right, femur_left (x = image column)
        [114.0, 540.0],
        [266.0, 540.0],  # knee_right, knee_left
        [116.0, 910.0],
        [264.0, 910.0],  # ankle_right, ankle_left
    ]
)


def px(mm: np.ndarray, spacing=SPACING) -> np.ndarray:
    return mm / np.array([spacing[1], spacing[0]])


def checks(mm: np.ndarray, present=None, spacing=SPACING, **kw) -> list[Finding]:
    xy = px(mm, spacing)
    present = np.isfinite(xy).all(axis=1) if present is None else present
    return check_plausibility(xy, present, spacing, **kw)


def test_a_correct_adult_passes():
    assert checks(ADULT_MM) == []


def test_synthetic_ground_truth_passes():
    """The generator's truth passes, except that children with severe deformity and
    leg-length differences (``paeds-deformity``) may be flagged for their asymmetry or a
    tilted joint line — true pathology a reviewer should look at — and for nothing else."""
    from apn_core.synth import SynthConfig, generate_case

    config = SynthConfig(spacing_mm=4.0)
    for i in range(60):
        case = generate_case(77, i, config)
        labels = case.labels("x")
        found = check_plausibility(labels.xy, labels.present, (4.0, 4.0))
        if case.meta.get("family") == "paeds-deformity":
            assert {f.check.split("_")[0] for f in found} <= {"symmetry", "line"}, found
        else:
            assert found == [], (i, case.meta.get("family"), [f.reason for f in found])


def test_a_child_is_short_but_proportionate():
    child = (ADULT_MM - ADULT_MM[0]) * 0.42 + ADULT_MM[0]  # legs ~340 mm
    assert checks(child) == []


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dy", [40.0, -40.0])
def test_a_landmark_moved_40_mm_along_the_leg_is_flagged_with_its_reason(name, dy):
    moved = ADULT_MM.copy()
    moved[NAMES.index(name), 1] += dy
    found = checks(moved)
    assert found, f"{name} moved {dy} mm passed"
    assert any(name in f.landmarks for f in found)
    assert all(f.reason for f in found)
    assert any(" % apart" in f.reason or "×" in f.reason for f in found)


def test_knee_moved_up_is_pinned_to_that_knee():
    moved = ADULT_MM.copy()
    moved[NAMES.index("knee_right"), 1] -= 40.0  # femur 400, tibia 410: ratio < 1
    found = checks(moved)
    assert {f.check for f in found} == {"ratio_right", "symmetry_knee"}
    assert all(f.pinned == "knee_right" for f in found)
    ratio = next(f for f in found if f.check == "ratio_right")
    assert "femur_right 0.98× the tibia (plausible 1–1.5)" in ratio.reason


def test_ankle_on_the_heel_names_both_ankles_without_pinning():
    moved = ADULT_MM.copy()
    moved[NAMES.index("ankle_left"), 1] += 40.0
    (f,) = checks(moved)
    assert f.check == "symmetry_tibia" and f.pinned is None
    assert set(f.landmarks) == {"ankle_right", "ankle_left"}
    assert "tibia right 370 mm vs left 410 mm (10 % apart, plausible ≤ 6 %)" in f.reason


@pytest.mark.parametrize("factor", [0.5 / 0.143, 0.143 / 0.5])
def test_spacing_mix_up_is_caught_as_scale_not_as_a_landmark(factor):
    found = checks(ADULT_MM, spacing=(0.5, 0.5))
    assert found == []
    xy = px(ADULT_MM)
    wrong = (0.5 * factor, 0.5 * factor)
    (f,) = check_plausibility(xy, np.ones(6, bool), wrong)
    assert f.check == "scale" and f.pinned is None and set(f.landmarks) == set(NAMES)
    assert "pixel spacing" in f.reason and (
        "too long" in f.reason if factor > 1 else "too short" in f.reason
    )


def test_mirrored_and_upside_down_images():
    mirrored = ADULT_MM.copy()
    mirrored[:, 0] = 380.0 - mirrored[:, 0]
    (f,) = checks(mirrored)
    assert f.check == "sides" and "swapped" in f.reason
    upside_down = ADULT_MM.copy()
    upside_down[:, 1] = 1000.0 - upside_down[:, 1]
    found = checks(upside_down)
    assert {f.check for f in found} == {"order_right", "order_left"}
    one_pair = ADULT_MM.copy()
    one_pair[[2, 3], 0] = one_pair[[3, 2], 0]  # knees swapped
    assert any(f.check == "sides_knee" for f in checks(one_pair))


def test_extreme_hka_and_tilted_lines():
    bent = ADULT_MM.copy()
    bent[NAMES.index("knee_left"), 0] += 230.0  # ~50° at the knee
    found = checks(bent)
    assert any(
        f.check == "hka_left" and "from straight (plausible ≤ 25°)" in f.reason for f in found
    )
    tilted = ADULT_MM.copy()
    tilted[NAMES.index("femur_left"), 1] += 120.0  # hip line ~34°
    assert any(f.check == "line_hip" for f in checks(tilted))


def test_absent_landmarks_skip_the_checks_that_need_them():
    moved = ADULT_MM.copy()
    moved[NAMES.index("knee_right"), 1] -= 40.0
    moved[NAMES.index("knee_left")] = np.nan  # no left knee: no right/left femur or tibia
    found = checks(moved)
    assert [f.check for f in found] == ["ratio_right"]
    only_hips = ADULT_MM.copy()
    only_hips[2:] = np.nan
    assert checks(only_hips) == []
    nothing = checks(np.full((6, 2), np.nan))  # issue 20: a chest film — said once, for the image
    assert [(f.check, f.pinned, len(f.landmarks)) for f in nothing] == [("no_landmark", None, 6)]
    present = np.array(
        [True, True, False, True, True, True]
    )  # reported absent, coordinates ignored
    assert checks(ADULT_MM, present=present) == []


def test_without_spacing_only_unit_free_checks_run():
    moved = ADULT_MM.copy()
    moved[NAMES.index("knee_right"), 1] -= 40.0
    xy = px(moved)
    found = check_plausibility(xy * 3.5, np.ones(6, bool), None)
    assert {f.check for f in found} == {"ratio_right", "symmetry_knee"}
    assert "px" in next(f for f in found if f.check == "symmetry_knee").reason


def test_other_landmark_sets_get_no_findings_and_ranges_are_settable():
    other = LandmarkSet(names=("a", "b"))
    assert check_plausibility(np.zeros((2, 2)), np.ones(2, bool), SPACING, other) == []
    strict = Ranges(side_difference=0.001)
    assert checks(
        ADULT_MM * np.array([1.0, 1.0])
        + np.array([[0, 0], [0, 0], [0, 2], [0, 0], [0, 0], [0, 0]]),
        ranges=strict,
    )


def test_pin_needs_one_common_landmark():
    a = Finding("x", "r", ("knee_right", "femur_right"))
    b = Finding("y", "r", ("knee_right", "knee_left"))
    c = Finding("z", "r", ("ankle_left", "ankle_right"))
    pinned = pin([a, b, c])
    assert [f.pinned for f in pinned] == ["knee_right", "knee_right", None]
    assert pin([c]) == [c]


def test_a_spacing_mix_up_stays_the_whole_images_finding_beside_a_misplaced_knee():
    """Found in review: the image-wide scale finding was narrowed ("pinned") to the one
    landmark a local finding shared with it, so the other leg's 3.5× lengths looked fine."""
    moved = ADULT_MM.copy()
    moved[2, 1] += 75.0  # knee_right 75 mm down: its femur/tibia ratio fails
    found = pin(check_plausibility(px(moved), np.ones(6, bool), (0.5 * 3.5, 0.5 * 3.5)))
    scale = [f for f in found if f.check == "scale"]
    assert scale and scale[0].pinned is None and set(scale[0].landmarks) == set(NAMES)
    whole = Finding("sides", "r", tuple(NAMES))
    assert pin([whole, Finding("x", "r", ("knee_right", "femur_right"))])[0].pinned is None
