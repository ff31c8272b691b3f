"""The phantom generator: landmarks lie where their bones are; determinism; absent/occluded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apn_core.dataset import load_labelled_folder
from apn_core.io import read_radiograph
from apn_core.synth import SynthConfig, generate_case
from apn_core.synth import generate as gen
from apn_core.synth.anatomy import sample_anatomy
from apn_core.synth.phantom import Implants, render_phantom

SPACING = 0.5


def _bone_map(seed: int):
    rng = np.random.default_rng([seed, 0])
    anatomy = sample_anatomy(rng)
    truth = anatomy.landmarks_mm()
    grid = gen._field_of_view(anatomy, truth, None, SPACING, rng)
    maps = render_phantom(anatomy, Implants(), grid, rng)
    xy = np.array([grid.to_pixel(x, y) for x, y in truth])
    return anatomy, maps.bone, xy


@pytest.mark.parametrize("seed", range(5))
def test_joint_centres_sit_in_the_joint_space(seed):
    """Along the column through a knee/ankle landmark, the radiolucent joint space (least
    bone between the femoral condyles and the tibial plateau, or the tibial plafond and
    the talar dome) is within 3 mm of the landmark."""
    _, bone, xy = _bone_map(seed)
    half = int(12 / SPACING)
    for i in range(2, 6):
        col, row = round(xy[i, 0]), round(xy[i, 1])
        profile = bone[row - half : row + half + 1, col]
        lucent = np.flatnonzero(profile <= profile.min() + 1e-6) - half
        assert np.abs(lucent).min() * SPACING <= 3.0, (i, lucent)
        assert (
            profile[0] > profile.min() + 0.2 and profile[-1] > profile.min() + 0.2
        )  # bone on both sides


@pytest.mark.parametrize("seed", range(5))
def test_femoral_head_centre_is_the_centre_of_the_head_outline(seed):
    """Walking from the landmark up, medially and up-medially (away from the neck), the
    femur's bone ends one head radius away: the landmark is the centre of the head."""
    from apn_core.synth import phantom

    rng = np.random.default_rng([seed, 0])
    anatomy = sample_anatomy(rng)
    grid = gen._field_of_view(anatomy, anatomy.landmarks_mm(), None, SPACING, rng)
    for side in ("right", "left"):
        leg = anatomy.legs[side]
        bone = np.zeros(grid.shape, np.float32)
        phantom._femur(bone, grid, leg, anatomy.scale)
        x0, y0 = grid.to_pixel(*leg.hip)
        medial = -leg.lateral
        for direction in ((0.0, -1.0), (medial, 0.0), (medial / 2**0.5, -(2**-0.5))):
            steps = np.arange(0, 2 * leg.head_radius, 0.25) / SPACING
            xs = np.round(x0 + steps * direction[0]).astype(int)
            ys = np.round(y0 + steps * direction[1]).astype(int)
            edge = steps[np.argmax(bone[ys, xs] < 0.01)] * SPACING
            assert edge == pytest.approx(leg.head_radius, abs=1.0), (side, direction)


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
    rng = np.random.default_rng([0, 0])
    anatomy = sample_anatomy(rng)
    grid = gen._field_of_view(anatomy, anatomy.landmarks_mm(), None, 0.143, rng)
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


def test_prostheses_occlude_their_landmarks():
    cfg = SynthConfig(
        spacing_mm=1.0,
        hip_prosthesis_fraction=1.0,
        knee_prosthesis_fraction=1.0,
        shield_fraction=0.0,
        restricted_fraction=0.0,
    )
    case = generate_case(1, 0, cfg)
    assert case.occluded[:4].all() and not case.occluded[4:].any()
    clean = generate_case(
        1,
        0,
        SynthConfig(
            spacing_mm=1.0,
            hip_prosthesis_fraction=0.0,
            knee_prosthesis_fraction=0.0,
            shield_fraction=0.0,
            restricted_fraction=0.0,
        ),
    )
    assert not clean.occluded.any()
    # metal is brighter than any bone: the occluded femoral head centre is near the top of the range
    img = case.bone_bright.astype(float)
    x, y = np.round(case.xy[0]).astype(int)
    assert img[y, x] > np.quantile(img, 0.99)


def test_written_folder_reads_back_with_true_spacing(synth_folder):
    folder = load_labelled_folder(synth_folder)
    formats = set()
    for item in folder.items:
        r = read_radiograph(item.path)
        formats.add((r.format, r.photometric))
        assert r.spacing == pytest.approx((1.0, 1.0))
    assert ("DICOM", "MONOCHROME1") in formats and any(f == "TIFF" for f, _ in formats)
    meta = [json.loads(line) for line in (synth_folder / "phantoms.jsonl").read_text().splitlines()]
    assert len(meta) == 6 and {"legs", "hip_prosthesis", "restricted_view"} <= set(meta[0])


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
