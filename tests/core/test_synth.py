"""The phantom generator: geometry, determinism, absent/occluded landmarks, written folders.

The landmark definitions are measured on the rendered solids in test_synth_definitions.py;
each generator parameter and the families are tested in test_synth_params.py and
test_synth_families.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from apn_core.dataset import load_labelled_folder
from apn_core.io import read_radiograph
from apn_core.synth import SynthConfig, generate_case
from apn_core.synth.anatomy import sample_anatomy
from apn_core.synth.draws import Draws
from apn_core.synth.hardware import sample_hardware
from apn_core.synth.phantom import render_phantom
from apn_core.synth.view import ViewPriors, sample_view


@pytest.mark.parametrize("seed", range(8))
def test_hip_knee_ankle_angle_matches_the_sampled_varus_valgus(seed):
    anatomy = sample_anatomy(np.random.default_rng([seed, 0]))
    for leg in anatomy.legs.values():
        a, b = leg.hip - leg.knee, leg.ankle - leg.knee
        angle = np.degrees(np.arccos(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)))
        # 180 − angle at the knee, sign: varus = knee lateral of the hip–ankle line
        d = leg.ankle - leg.hip
        cross = d[0] * (leg.knee - leg.hip)[1] - d[1] * (leg.knee - leg.hip)[0]
        lateral_side = np.sign(cross) * -leg.lateral
        assert 180 - angle == pytest.approx(abs(leg.hka_deviation_deg), abs=1e-6)
        if abs(leg.hka_deviation_deg) > 0.1:
            assert lateral_side == np.sign(leg.hka_deviation_deg)
        assert abs(leg.hka_deviation_deg) <= 12.0
        assert np.linalg.norm(leg.knee - leg.hip) == pytest.approx(leg.femur_length, rel=1e-3)
    assert (
        anatomy.legs["right"].hip[0] < anatomy.legs["left"].hip[0]
    )  # patient's right on image left


def test_generation_is_deterministic_and_depends_on_seed():
    cfg = SynthConfig(spacing_mm=2.0)
    a, b = generate_case(5, 1, cfg), generate_case(5, 1, cfg)
    np.testing.assert_array_equal(a.stored, b.stored)
    np.testing.assert_array_equal(a.xy, b.xy)
    assert not np.array_equal(generate_case(6, 1, cfg).xy, a.xy)


def test_full_size_geometry_matches_the_reference_data():
    draws = Draws(0, 0)
    grid, _ = sample_view(draws, ViewPriors(restricted=0.0), sample_anatomy(draws), 0.143)
    rows, cols = grid.shape
    assert 6500 < rows < 8500 and 2400 < cols < 3200  # ~7300 × 2800 at 0.143 mm/px


def test_restricted_views_put_landmarks_outside_and_write_them_absent():
    cfg = SynthConfig(spacing_mm=2.0, restricted_fraction=1.0)
    seen = set()
    for i in range(12):
        case = generate_case(3, i, cfg)
        seen.add(case.meta["restricted_view"])
        rows, cols = case.stored.shape
        inside = (
            (case.xy[:, 0] >= -0.5)
            & (case.xy[:, 0] <= cols - 0.5)
            & (case.xy[:, 1] >= -0.5)
            & (case.xy[:, 1] <= rows - 0.5)
        )
        np.testing.assert_array_equal(case.present, inside)
        assert 0 < case.present.sum() < 6
        labels = case.labels("x")
        assert labels.annotated.all() and np.isnan(labels.xy[~case.present]).all()
    assert seen == {"no-hips", "no-ankles", "one-leg"}


NO_OTHER_HARDWARE = {
    "anatomy.child": 0.0,
    "accessories.calibration_ball": 0.0,
    "hardware.nail": 0.0,
    "hardware.screws": 0.0,
    "hardware.plate": 0.0,
    "hardware.fixator": 0.0,
}


def _implant_config(family, hip, knee, knee_styles="total"):
    return SynthConfig(
        spacing_mm=1.0,
        hip_prosthesis_fraction=hip,
        knee_prosthesis_fraction=knee,
        shield_fraction=0.0,
        restricted_fraction=0.0,
        families=(family,),
        overrides={**NO_OTHER_HARDWARE, "hardware.knee_styles": knee_styles},
    )


@pytest.mark.parametrize("family", ["dr-clinic", "postop"])
def test_hip_prostheses_occlude_the_femoral_head_centres(family):
    case = generate_case(1, 0, _implant_config(family, 1.0, 0.0))
    assert case.occluded[:2].all() and not case.occluded[2:].any()
    assert not generate_case(1, 0, _implant_config(family, 0.0, 0.0)).occluded.any()
    # metal is brighter than bone: the occluded femoral head centre is near the top of the range
    img = case.bone_bright.astype(float)
    x, y = np.round(case.xy[0]).astype(int)
    assert img[y, x] >= np.quantile(img, 0.99)


@pytest.mark.parametrize("seed", range(3))
def test_knee_replacements_straddle_the_knee_centre(seed):
    """A hinged knee covers the knee centre with its hinge box (occluded); a total knee leaves
    it in the radiolucent insert, with metal within 25 mm above (femoral component) and below
    (tray) on the line through it along the tibial axis."""
    hinged = generate_case(seed, 0, _implant_config("dr-clinic", 0.0, 1.0, "hinged"))
    assert hinged.occluded[2:4].all() and not hinged.occluded[[0, 1, 4, 5]].any()
    cfg = _implant_config("dr-clinic", 0.0, 1.0, "total")
    draws = Draws(seed, 0)
    family = cfg.family_for(0)
    anatomy = sample_anatomy(draws, family.anatomy)
    hw = sample_hardware(draws, family.hardware, anatomy)
    assert [i.style for i in hw.items if i.kind == "knee"] == ["total", "total"]
    grid, _ = sample_view(draws, family.view, anatomy, 1.0)
    metal = render_phantom(anatomy, hw, grid).occluder
    for leg in anatomy.legs.values():
        kf = leg.knee_frame()
        along = np.array([grid.to_pixel(*kf.at(0.0, v)) for v in range(-25, 26)])
        values = ndimage.map_coordinates(metal, along[:, ::-1].T, order=0)
        assert values[:25].max() > 3 and values[26:].max() > 3 and values[25] == 0, values


def test_written_folder_reads_back_with_true_spacing(synth_folder):
    """Every image has its true spacing: from the file, or (PNG/JPEG) from landmarks.csv."""
    folder = load_labelled_folder(synth_folder)
    assert folder.report.ok and len(folder) == 6
    for item in folder.items:
        assert item.spacing == pytest.approx((1.0, 1.0))
        r = read_radiograph(item.path)
        if r.format in ("DICOM", "TIFF"):
            assert r.spacing == pytest.approx((1.0, 1.0))
        else:
            assert r.spacing is None and "landmarks.csv" in item.spacing_source
    meta = [json.loads(line) for line in (synth_folder / "phantoms.jsonl").read_text().splitlines()]
    assert len(meta) == 6 and {"legs", "hip_prosthesis", "restricted_view", "family"} <= set(
        meta[0]
    )
    assert [m["family"] for m in meta[:5]] == list(SynthConfig().families)


def test_monochrome1_files_store_bone_dark_but_read_bone_bright(tmp_path):
    from apn_core.synth import write_synthetic_folder

    cfg = SynthConfig(spacing_mm=2.0, formats=("dicom-mono1",))
    out = write_synthetic_folder(tmp_path / "m1", 1, seed=2, config=cfg)
    case = generate_case(2, 0, cfg)
    r = read_radiograph(next(out.glob("*.dcm")))
    np.testing.assert_array_equal(r.pixels, case.bone_bright.astype(np.float32))
    assert r.photometric == "MONOCHROME1"


def test_refuses_to_overwrite_a_labelled_folder(synth_folder):
    from apn_core.errors import FileProblem
    from apn_core.synth import write_synthetic_folder

    with pytest.raises(FileProblem, match=r"already holds a landmarks\.csv"):
        write_synthetic_folder(synth_folder, 1)
