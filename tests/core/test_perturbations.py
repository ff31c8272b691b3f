"""apn_core.perturbations (what apn calibrate --perturb and the benchmarks apply): landmarks
move with the pixels; absent when pushed out."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from apn_core.perturbations import ALL, PERTURBATIONS, SEVERE, STANDARD, Sample, perturb

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from perturbations import write_perturbed_folder

ROWS, COLS = 300, 120
XY = np.array(
    [[30.0, 40.0], [90.0, 42.0], [33.0, 150.0], [87.0, 151.0], [35.0, 260.0], [85.0, 262.0]]
)


def dotted() -> Sample:
    """A dark, gently graded image with a bright 5×5 dot on every landmark."""
    pixels = np.tile(np.linspace(100, 300, COLS, dtype=np.float32), (ROWS, 1))
    for x, y in XY:
        pixels[round(y) - 2 : round(y) + 3, round(x) - 2 : round(x) + 3] = 4000.0
    return Sample(pixels, XY.copy(), np.ones(6, bool), (2.0, 2.0))


def brightest_near(pixels: np.ndarray, x: float, y: float, r: int = 3) -> float:
    rows, cols = pixels.shape
    y0, x0 = round(y), round(x)
    return float(
        pixels[max(0, y0 - r) : min(rows, y0 + r + 1), max(0, x0 - r) : min(cols, x0 + r + 1)].max()
    )


def test_the_issue_rows_are_all_there():
    assert list(PERTURBATIONS) == [
        "jpeg_q30",
        "blur_2px",
        "gamma_0.5",
        "gamma_2",
        "window_50",
        "8bit",
        "mono1_dicom",
        "text",
        "rotate_+10",
        "rotate_-10",
        "crop_top_20",
        "crop_bottom_20",
    ]
    assert not set(SEVERE) & set(PERTURBATIONS)


@pytest.mark.parametrize("name", [k for k in ALL if not k.startswith("no_leg")])
def test_landmarks_stay_on_their_dots(name):
    s = dotted()
    out = perturb(name, s, seed=3)
    assert out.pixels.ndim == 2 and np.isfinite(out.pixels).all()
    assert out.annotated.all() and out.xy.shape == (6, 2)
    inside = out.present
    assert inside.any()
    lo, hi = np.percentile(out.pixels, [50, 100])
    for x, y in out.xy[inside]:
        assert 0 <= x <= out.pixels.shape[1] - 1 and 0 <= y <= out.pixels.shape[0] - 1
        if name not in ("inverted_undeclared", "noise_15", "occlude_50mm", "window_20"):
            assert brightest_near(out.pixels, x, y) > lo + 0.5 * (hi - lo), (name, x, y)


def test_rotation_and_crop_move_landmarks_exactly():
    s = dotted()
    r = perturb("rotate_+10", s)
    assert r.pixels.shape[0] > ROWS and r.pixels.shape[1] > COLS  # the canvas grows
    c = perturb("crop_top_20", s)
    assert c.pixels.shape == (ROWS - 60, COLS)
    assert np.isnan(c.xy[:2]).all() and c.present.tolist() == [False, False, True, True, True, True]
    np.testing.assert_allclose(c.xy[2:], XY[2:] - [0, 60])
    b = perturb("crop_bottom_20", s)
    assert b.present.tolist() == [True, True, True, True, False, False]


def test_intensity_perturbations_change_pixels_not_landmarks():
    s = dotted()
    for name in ("jpeg_q30", "blur_2px", "gamma_0.5", "gamma_2", "window_50", "8bit", "text"):
        out = perturb(name, s, seed=1)
        np.testing.assert_array_equal(out.xy, s.xy)
        assert not np.array_equal(out.pixels, s.pixels), name
    assert len(np.unique(perturb("8bit", s).pixels)) <= 256
    mono1 = perturb("mono1_dicom", s)  # stored bone dark, declared, read back bone bright
    assert np.corrcoef(mono1.pixels.ravel(), s.pixels.ravel())[0, 1] > 0.999


def test_write_perturbed_folder_is_a_labelled_folder(synth_folder, tmp_path):
    from apn_core.dataset import load_labelled_folder

    out = write_perturbed_folder(synth_folder, tmp_path / "crop", "crop_top_20", n=2)
    folder = load_labelled_folder(out)
    assert folder.report.ok and len(folder) == 2
    assert all(item.spacing == (1.0, 1.0) for item in folder.items)
    assert any(item.labels.absent.any() for item in folder.items)


def test_standard_kinds_are_those_of_the_bundled_calibration():
    """``apn calibrate --perturb standard,no_leg_thigh,no_leg_shank`` reproduces the shipped
    calibration's data: the kinds its fitted_on names (``standard`` is the benchmark's
    calibration half; the two one-leg cuts teach it the leg that is not there)."""
    import json

    from apn_core.inference.model_store import BUNDLED_DIR
    from apn_core.perturbations import parse_kinds

    fitted = json.loads((BUNDLED_DIR / "default" / "calibration.json").read_text())["fitted_on"]
    shipped = fitted["data"].split("(+ ")[1].rstrip(")").split(", ")
    assert [*STANDARD, "no_leg_thigh", "no_leg_shank"] == shipped and len(STANDARD) == 10
    assert parse_kinds("standard") == STANDARD and parse_kinds("none") == ()
    assert parse_kinds("gamma_4, blur_2px,gamma_4") == ("gamma_4", "blur_2px")
    with pytest.raises(ValueError, match="unknown perturbation 'sepia'; use standard, none"):
        parse_kinds("sepia")


def test_perturbations_pickle_for_worker_processes():
    import pickle

    assert pickle.loads(pickle.dumps(ALL))["rotate_+10"].keywords == {"degrees": 10.0}


def test_no_leg_keeps_no_landmark_and_crops_between_the_joints():
    from apn_core.perturbations import Sample, perturb

    pixels = np.tile(np.arange(1000, dtype=np.float32)[:, None], (1, 300))
    xy = np.array([[80, 100], [220, 102], [90, 500], [210, 498], [95, 900], [205, 902]], float)
    s = Sample(pixels, xy, np.ones(6, bool), (1.0, 1.0))
    thigh = perturb("no_leg_thigh", s)
    assert thigh.annotated.all() and not thigh.present.any()  # every landmark absent
    assert thigh.pixels[0, 0] == 201 and thigh.pixels.shape[0] == 198  # rows 201..398 of 102..498
    shank = perturb("no_leg_shank", s)
    assert shank.pixels[0, 0] == 600 and not shank.present.any()  # 500 + 0.25 × (900 - 500)
