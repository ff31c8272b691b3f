"""Each generator parameter: seeded (same seed, same case), and switching it on changes the
image where it should. Every axis draws from its own random stream, so a pair of cases that
differ in one setting differ only by what that setting draws."""

from __future__ import annotations

import numpy as np
import pytest

from apn_core.annotations import read_landmarks_csv
from apn_core.dataset import load_labelled_folder
from apn_core.io import read_radiograph
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.synth import SynthConfig, generate_case, write_synthetic_folder
from apn_core.synth.families import FAMILIES

COARSE = 2.0  # mm/px: every parameter below shows at this size


def _case(overrides=None, family="dr-clinic", seed=5, index=0, spacing=COARSE, **kw):
    base = {"overlays.text": 0.0, "accessories.markers": 0.0, "view.restricted": 0.0}
    cfg = SynthConfig(
        spacing_mm=spacing,
        families=(family,),
        formats=kw.pop("formats", ("dicom",)),
        overrides={**base, **(overrides or {})},
        **kw,
    )
    return generate_case(seed, index, cfg)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_seed_same_case_in_every_family(family):
    cfg = SynthConfig(spacing_mm=COARSE, families=(family,))
    a, b = generate_case(3, 2, cfg), generate_case(3, 2, cfg)
    np.testing.assert_array_equal(a.stored, b.stored)
    np.testing.assert_array_equal(a.xy, b.xy)
    assert a.meta == b.meta and a.family == family
    assert not np.array_equal(generate_case(4, 2, cfg).xy, a.xy)


def test_case_i_does_not_depend_on_how_many_are_written(tmp_path):
    cfg = SynthConfig(spacing_mm=COARSE)
    two = write_synthetic_folder(tmp_path / "two", 2, seed=9, config=cfg)
    four = write_synthetic_folder(tmp_path / "four", 4, seed=9, config=cfg)
    a = read_landmarks_csv(two / "landmarks.csv", DEFAULT_LANDMARKS)
    b = read_landmarks_csv(four / "landmarks.csv", DEFAULT_LANDMARKS)
    for name, labels in a.items():
        np.testing.assert_array_equal(labels.xy, b[name].xy)
        pa, pb = read_radiograph(two / name).pixels, read_radiograph(four / name).pixels
        np.testing.assert_array_equal(pa, pb)


# (setting, value on, value off, family): switching it changes the image
SWITCHES = [
    ("anatomy.child", 1.0, 0.0, "dr-clinic"),
    ("anatomy.deformity", 1.0, 0.0, "paeds-deformity"),
    ("anatomy.flexion", 1.0, 0.0, "dr-clinic"),
    ("anatomy.rotation_sd_deg", 15.0, 0.0, "dr-clinic"),
    ("anatomy.lld", 1.0, 0.0, "dr-clinic"),
    ("anatomy.amputation", 1.0, 0.0, "postop"),
    ("anatomy.foot_styles", "plantar", "ap", "dr-clinic"),
    ("anatomy.ankle_height_mm", "64", "88", "dr-clinic"),
    ("anatomy.foot_top_mm", "6", "22", "dr-clinic"),
    ("anatomy.plafond_plate", "0.2", "1.0", "dr-clinic"),
    ("anatomy.neck_shaft_deg", "115", "145", "dr-clinic"),
    ("anatomy.anteversion_deg", "40", "0", "dr-clinic"),
    ("anatomy.neck_length", "0.8", "1.2", "dr-clinic"),
    ("anatomy.bone_width", "0.85", "1.2", "dr-clinic"),
    ("anatomy.cortex", "0.6", "1.4", "dr-clinic"),
    ("anatomy.habitus", "0.8", "1.4", "dr-clinic"),
    ("anatomy.patella_height_mm", "12", "-12", "dr-clinic"),
    ("anatomy.patella_shift_mm", "10", "-5", "dr-clinic"),
    ("anatomy.fibula_overlap_mm", "10", "-6", "dr-clinic"),
    ("anatomy.shape_jitter", 0.15, 0.0, "dr-clinic"),
    ("anatomy.lean_sd_deg", 3.0, 0.0, "dr-clinic"),
    ("hardware.hip_replacement", 1.0, 0.0, "dr-clinic"),
    ("hardware.knee_replacement", 1.0, 0.0, "dr-clinic"),
    ("hardware.nail", 1.0, 0.0, "dr-clinic"),
    ("hardware.plate", 1.0, 0.0, "dr-clinic"),
    ("hardware.screws", 1.0, 0.0, "dr-clinic"),
    ("hardware.fixator", 1.0, 0.0, "dr-clinic"),
    ("hardware.cast", 1.0, 0.0, "dr-clinic"),
    ("hardware.growth_plates", 1.0, 0.0, "paeds-deformity"),
    ("hardware.shield", 1.0, 0.0, "dr-clinic"),
    ("acquisition.grid_lines", 1.0, 0.0, "dr-clinic"),
    ("acquisition.collimation", 1.0, 0.0, "dr-clinic"),
    ("acquisition.exposures", "3", "1", "dr-clinic"),
    ("acquisition.scatter", "0.5", "0.05", "dr-clinic"),
    ("acquisition.heel", 0.3, 0.0, "dr-clinic"),
    ("acquisition.blur_mm", "1.5", "0.1", "dr-clinic"),
    ("acquisition.dose", "0.2", "3", "dr-clinic"),
    ("acquisition.electronic_noise", "0.02", "0", "dr-clinic"),
    ("processing.luts", "s-curve", "log", "dr-clinic"),
    ("processing.luts", "linear", "log", "dr-clinic"),
    ("processing.equalise", 1.0, 0.0, "dr-clinic"),
    ("processing.latitude", "0.7", "0", "dr-clinic"),
    ("processing.unsharp", "1", "0", "dr-clinic"),
    ("processing.gamma", "0.6", "1.4", "dr-clinic"),
    ("processing.window", "0.1", "-0.1", "dr-clinic"),
    ("overlays.text", 1.0, 0.0, "dr-clinic"),
    ("overlays.padding", 1.0, 0.0, "dr-clinic"),
    ("accessories.ruler", 1.0, 0.0, "dr-clinic"),
    ("accessories.ruler_places", "between", "left", "dr-clinic"),
    ("accessories.markers", 1.0, 0.0, "dr-clinic"),
    ("accessories.blocks", 1.0, 0.0, "dr-clinic"),
    ("accessories.calibration_ball", 1.0, 0.0, "dr-clinic"),
    ("view.restricted", 1.0, 0.0, "dr-clinic"),
    ("view.off_centre_mm", 40.0, 0.0, "dr-clinic"),
    ("view.bottom_mm", "15", "120", "dr-clinic"),
    ("view.width_mm", "300", "480", "dr-clinic"),
    ("storage.bits", "8", "16", "dr-clinic"),
]


@pytest.mark.parametrize(
    ("key", "on", "off", "family"), SWITCHES, ids=[f"{s[0]}={s[1]}" for s in SWITCHES]
)
def test_each_setting_changes_the_image(key, on, off, family):
    a, b = _case({key: on}, family), _case({key: off}, family)
    assert a.stored.shape != b.stored.shape or not np.array_equal(a.stored, b.stored), key
    again = _case({key: on}, family)
    np.testing.assert_array_equal(a.stored, again.stored)  # seeded


def _at(img: np.ndarray, xy: np.ndarray, half: int = 2) -> float:
    x, y = np.round(xy).astype(int)
    return float(img[y - half : y + half + 1, x - half : x + half + 1].mean())


def test_femoral_nail_raises_attenuation_along_the_femoral_shaft():
    """Across the mid-femur the brightest pixel (the canal) is brighter with a nail; the
    ankles do not change."""
    only = {"hardware.hip_replacement": 0.0, "hardware.knee_replacement": 0.0}
    on = {
        **only,
        "hardware.nail": 1.0,
        "hardware.nail_sites": "femur",
        "hardware.nail_lag_screw": 0.0,
    }
    a = _case(on, spacing=1.0, noise_scale=0.0)
    b = _case({**on, "hardware.nail": 0.0}, spacing=1.0, noise_scale=0.0)
    ia, ib = (c.bone_bright.astype(float) / (2**c.bits - 1) for c in (a, b))
    for hip, knee, ankle in ((0, 2, 4), (1, 3, 5)):
        x, y = np.round((a.xy[hip] + a.xy[knee]) / 2).astype(int)
        across = slice(x - 40, x + 41)
        assert ia[y, across].max() > ib[y, across].max() + 0.1  # metal in the canal
        assert abs(_at(ia, a.xy[ankle]) - _at(ib, b.xy[ankle])) < 0.05  # nothing at the ankle
    assert [h["kind"] for h in a.meta["hardware"] if h["kind"] != "shield"] == ["nail", "nail"]


def test_burned_in_text_changes_pixels_only_in_its_boxes():
    a, b = _case({"overlays.text": 1.0}), _case({"overlays.text": 0.0})
    boxes = a.meta["overlays"]["boxes"]
    assert boxes and not b.meta["overlays"]["boxes"]
    inside = np.zeros(a.stored.shape, bool)
    for x0, y0, x1, y1 in boxes:
        inside[y0:y1, x0:x1] = True
        assert not np.array_equal(a.stored[y0:y1, x0:x1], b.stored[y0:y1, x0:x1])
    np.testing.assert_array_equal(a.stored[~inside], b.stored[~inside])


def test_padding_moves_the_landmarks_with_the_content():
    a, b = _case({"overlays.padding": 1.0}), _case({"overlays.padding": 0.0})
    left, right, top, bottom = (round(p / COARSE) for p in a.meta["overlays"]["padding_mm"])
    assert a.stored.shape == (b.stored.shape[0] + top + bottom, b.stored.shape[1] + left + right)
    np.testing.assert_allclose(a.xy, b.xy + np.array([left, top]))
    inner = a.stored[top : top + b.stored.shape[0], left : left + b.stored.shape[1]]
    np.testing.assert_array_equal(inner, b.stored)
    if top:
        assert len(np.unique(a.stored[:top])) == 1  # a constant canvas


def test_grid_lines_are_stripes_at_their_period():
    a = _case(
        {"acquisition.grid_lines": 1.0, "acquisition.grid_period_mm": "8"},
        spacing=1.0,
        noise_scale=0.0,
    )
    b = _case(
        {"acquisition.grid_lines": 0.0, "acquisition.grid_period_mm": "8"},
        spacing=1.0,
        noise_scale=0.0,
    )
    period, _, horizontal = a.meta["acquisition"]["grid"]
    diff = a.bone_bright.astype(float) - b.bone_bright.astype(float)
    profile = diff.mean(axis=1 if horizontal else 0)
    spectrum = np.abs(np.fft.rfft(profile - profile.mean()))
    freqs = np.fft.rfftfreq(len(profile), d=1.0)  # cycles per mm
    assert freqs[np.argmax(spectrum)] == pytest.approx(1 / period, abs=2 / len(profile))


def test_collimation_blades_are_bright_borders_that_keep_off_the_landmarks():
    on = {
        "acquisition.collimation": 1.0,
        "acquisition.collimation_mm": "40",
        "overlays.shutter": 0.0,
    }
    a = _case(on, spacing=1.0)
    b = _case({**on, "acquisition.collimation": 0.0}, spacing=1.0)
    left, right = (round(v) for v in a.meta["acquisition"]["collimation_mm"][:2])
    assert left > 0 or right > 0
    img, ref = a.bone_bright.astype(float), b.bone_bright.astype(float)
    if left > 3:
        assert img[:, : left - 2].mean() > ref[:, : left - 2].mean() + 0.1 * img.max()
    xs = a.xy[a.present, 0]
    assert xs.min() - left >= 24 and a.stored.shape[1] - 1 - right - xs.max() >= 24


def test_jpeg_storage_writes_a_jpg_that_reads_back_with_the_csv_spacing(tmp_path):
    cfg = SynthConfig(spacing_mm=COARSE, formats=("jpeg",), families=("export-8bit",))
    out = write_synthetic_folder(tmp_path / "j", 2, seed=1, config=cfg)
    files = sorted(out.glob("*.jpg"))
    assert len(files) == 2
    assert "spacing_mm" in (out / "landmarks.csv").read_text().splitlines()[0]
    folder = load_labelled_folder(out)
    assert folder.report.ok
    for item in folder.items:
        assert item.spacing == (COARSE, COARSE) and "landmarks.csv" in item.spacing_source
    r = read_radiograph(files[0])
    np.testing.assert_array_equal(r.pixels, generate_case(1, 0, cfg).stored.astype(np.float32))


@pytest.mark.parametrize("fmt", ["dicom", "tiff", "png"])
def test_eight_bit_storage_has_at_most_256_levels(tmp_path, fmt):
    case = _case({"storage.bits": "8"}, formats=(fmt,))
    assert case.bits == 8 and case.stored.dtype == np.uint8 and len(np.unique(case.stored)) <= 256
    out = write_synthetic_folder(
        tmp_path / fmt,
        1,
        seed=5,
        config=SynthConfig(
            spacing_mm=COARSE,
            families=("dr-clinic",),
            formats=(fmt,),
            overrides={"storage.bits": "8"},
        ),
    )
    r = read_radiograph(
        next(p for p in out.iterdir() if p.suffix != ".csv" and p.suffix != ".jsonl")
    )
    assert r.pixels.max() <= 255 and len(np.unique(r.pixels)) <= 256


def test_sixteen_bit_png_keeps_its_levels(tmp_path):
    cfg = SynthConfig(
        spacing_mm=COARSE, families=("postop",), formats=("png",), overrides={"storage.bits": "14"}
    )
    out = write_synthetic_folder(tmp_path / "p", 1, seed=2, config=cfg)
    r = read_radiograph(next(out.glob("*.png")))
    assert r.stored_dtype == "uint16" and r.pixels.max() > 255
    np.testing.assert_array_equal(r.pixels, generate_case(2, 0, cfg).stored.astype(np.float32))


@pytest.mark.parametrize(("level", "absent"), [("transtibial", 1), ("transfemoral", 2), ("hip", 3)])
def test_amputation_writes_the_missing_landmarks_annotated_absent(tmp_path, level, absent):
    cfg = SynthConfig(
        spacing_mm=COARSE,
        families=("postop",),
        restricted_fraction=None,
        overrides={
            "anatomy.amputation": 1.0,
            "anatomy.amputation_levels": level,
            "view.restricted": 0.0,
        },
    )
    case = generate_case(0, 0, cfg)
    side = next(iter(case.meta["amputation"]))
    rows = {"right": [0, 2, 4], "left": [1, 3, 5]}[side]
    assert list(case.present[rows]) == [True] * (3 - absent) + [False] * absent
    out = write_synthetic_folder(tmp_path / level, 1, seed=0, config=cfg)
    labels = next(iter(read_landmarks_csv(out / "landmarks.csv", DEFAULT_LANDMARKS).values()))
    assert labels.annotated.all() and labels.absent.sum() == absent
    assert list(labels.absent[rows][3 - absent :]) == [True] * absent


def test_restricted_fraction_zero_keeps_every_landmark_in_every_family():
    """restricted_fraction=0 (demo, sample data) also switches amputations off."""
    cfg = SynthConfig(spacing_mm=COARSE, restricted_fraction=0.0)
    for i, name in enumerate(cfg.families):
        family = cfg.family_for(i)
        assert (
            family.name == name and family.view.restricted == 0 and family.anatomy.amputation == 0
        )
    assert all(generate_case(0, i, cfg).present.all() for i in range(10))
    assert SynthConfig().family_for(3).anatomy.amputation > 0  # postop has amputations


def test_severe_deformity_reaches_beyond_the_usual_range():
    cfg = SynthConfig(
        spacing_mm=COARSE,
        families=("paeds-deformity",),
        overrides={"anatomy.deformity": 1.0, "anatomy.child": 0.0},
    )
    hka = [
        abs(leg["hka_deviation_deg"])
        for i in range(6)
        for leg in generate_case(1, i, cfg).meta["legs"].values()
    ]
    assert max(hka) > 12.0 and max(hka) <= 25.0


def test_children_are_small_with_open_physes():
    case = _case({"anatomy.child": 1.0})
    assert case.meta["child"] and case.meta["body_size"] <= 0.85
    assert all(leg["physes"] for leg in case.meta["legs"].values())


def test_flexed_knee_foreshortens_the_projected_bones():
    flexed, straight = (
        _case({"anatomy.flexion": 1.0, "anatomy.flexion_max_deg": 30.0}),
        _case({"anatomy.flexion": 0.0}),
    )
    for side, i in (("right", 0), ("left", 1)):
        assert flexed.meta["legs"][side]["flexion_deg"] > 3.0
        hk_flexed = np.hypot(*(flexed.xy[i + 2] - flexed.xy[i])) * COARSE
        hk_straight = np.hypot(*(straight.xy[i + 2] - straight.xy[i])) * COARSE
        assert hk_flexed < hk_straight
        assert hk_flexed == pytest.approx(flexed.meta["legs"][side]["femur_length"], rel=1e-3)


def test_global_equalisation_flattens_the_histogram():
    eq = {
        "processing.equalise": 1.0,
        "processing.equalisers": "global",
        "processing.equalise_blend": "1",
    }
    a, b = _case(eq, noise_scale=0.0), _case({"processing.equalise": 0.0}, noise_scale=0.0)

    def spread(c):
        h, _ = np.histogram(c.bone_bright, bins=16, range=(0, 2**c.bits - 1))
        return h.std() / h.mean()

    assert spread(a) < spread(b)


def test_side_markers_and_calibration_ball_are_bright_where_placed():
    on = {"accessories.markers": 1.0, "accessories.calibration_ball": 1.0}
    a = _case(on, spacing=1.0, noise_scale=0.0)
    b = _case(
        {"accessories.markers": 0.0, "accessories.calibration_ball": 0.0},
        spacing=1.0,
        noise_scale=0.0,
    )
    diff = a.bone_bright.astype(float) - b.bone_bright.astype(float)
    assert a.meta["accessories"]["markers"] and a.meta["accessories"]["ball"]
    assert (diff > 0.2 * (2**a.bits - 1)).sum() > 100  # lead letters and the metal ball
