"""Pixel spacing from a ruler or ball on the film (apn_core.calibration_object): found
where it is, measured to the truth, never guessed where there is none."""

from __future__ import annotations

import numpy as np
import pytest

from apn_core.calibration_object import ObjectChoice, estimate_spacing, parse_spacing_from
from apn_core.calibration_object.resolve import NOT_FOUND, apply_object
from apn_core.io.record import Radiograph
from apn_core.synth.config import SynthConfig
from apn_core.synth.generate import generate_case
from apn_core.synth.projection import Grid, ellipsoid, slab
from apn_core.synth.ruler import render_ruler

SPACING = 0.5  # detector mm/px of the test films


def film(
    rows: int = 2000,
    cols: int = 420,
    seed: int = 0,
    spacing: float = SPACING,
) -> tuple[np.ndarray, Grid]:
    """A plain long film (μ·t): soft tissue shaped like two legs, a slow exposure ramp."""
    grid = Grid(0.0, 0.0, spacing, (rows, cols))
    mu = np.zeros(grid.shape, np.float32)
    height = rows * spacing
    for x in (0.3, 0.7):
        slab(mu, grid, (x * cols * spacing, 0.0), (x * cols * spacing, height), 60.0, 120.0, 0.018)
    return mu, grid


def expose(mu: np.ndarray, seed: int = 0, noise: float = 0.01) -> np.ndarray:
    """μ·t → a 12-bit bone-bright display: the intensity with scatter (20 % of the mean
    primary, as the generator's), noisy and blurred as a detector blurs it (σ 0.6 px),
    then its logarithm."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    primary = np.exp(-mu)
    intensity = (primary + 0.2 * primary.mean()) * (1.0 + noise * rng.standard_normal(mu.shape))
    intensity = gaussian_filter(intensity, 0.6)
    display = -np.log(np.clip(intensity, 1e-4, None))
    display = (display - display.min()) / (np.ptp(display) + 1e-9)
    return np.round(display * 4095).astype(np.uint16)


def with_ruler(style: str, magnification: float, spacing: float = SPACING, **kw) -> np.ndarray:
    mu, grid = film(spacing=spacing, **kw)
    render_ruler(mu, grid, grid.shape[1] * spacing - 40.0, 3.7, style=style, scale=magnification)
    return expose(mu)


# ---------------------------------------------------------------- choices


@pytest.mark.parametrize(
    ("text", "kind", "mm"),
    [("auto", "auto", None), ("Ruler", "ruler", None), ("none", "none", None),
     ("ball:25mm", "ball", 25.0), ("ball: 30", "ball", 30.0), ("ball:25.4mm", "ball", 25.4)],
)  # fmt: skip
def test_object_choice_parses_what_the_option_accepts(text, kind, mm):
    choice = ObjectChoice.parse(text)
    assert (choice.kind, choice.ball_mm) == (kind, mm)


@pytest.mark.parametrize("text", ["ball", "ball:", "ball:-3mm", "ball:nan", "ball:999", "disk"])
def test_object_choice_refuses_a_ball_without_a_diameter_and_unknown_objects(text):
    with pytest.raises(ValueError, match="calibration"):
        ObjectChoice.parse(text)


def test_spacing_from_accepts_dicom_file_and_object():
    assert parse_spacing_from("DICOM") == parse_spacing_from("file") == "file"
    assert parse_spacing_from("object") == "object"
    with pytest.raises(ValueError, match="dicom"):
        parse_spacing_from("ruler")


# ---------------------------------------------------------------- rulers


@pytest.mark.parametrize("style", ["cm", "5mm", "numbered", "mm"])
@pytest.mark.parametrize("magnification", [1.0, 1.17])
def test_ruler_spacing_at_the_ruler_within_half_a_percent(style, magnification):
    estimate = estimate_spacing(with_ruler(style, magnification), "auto")
    assert estimate is not None and estimate.object == "ruler"
    truth = SPACING / magnification
    assert estimate.spacing_mm == pytest.approx(truth, rel=0.005)
    assert 0 < estimate.uncertainty_mm < 0.005 * truth
    r0, r1, c0, _c1 = estimate.box
    assert c0 > 300 and r1 - r0 > 1500  # the ruler's strip, along the film


def test_ruler_found_on_a_full_size_film_through_the_reduced_copy():
    image = with_ruler("mm", 1.1, spacing=0.15, rows=7000, cols=300)
    estimate = estimate_spacing(image, "ruler")
    assert estimate is not None
    assert estimate.spacing_mm == pytest.approx(0.15 / 1.1, rel=0.002)
    assert "1 mm ticks" in estimate.detail  # resolved at full resolution only


def test_film_without_an_object_gives_no_spacing():
    mu, _ = film()
    assert estimate_spacing(expose(mu), "auto") is None
    assert estimate_spacing(expose(mu), "ball:25mm") is None


def test_grid_lines_across_the_film_are_not_a_ruler():
    """Anti-scatter grid lines: periodic everywhere, stronger where the film is brighter."""
    mu, grid = film()
    rows = np.arange(grid.shape[0])[:, None]
    mu += 0.05 * np.cos(2 * np.pi * rows / 5.3) * (0.3 + mu / mu.max())
    assert estimate_spacing(expose(mu), "auto") is None


def test_a_plates_row_of_screws_is_not_a_ruler():
    mu, grid = film()
    for k in range(6):  # six screws 16 mm apart across one leg
        y = 600.0 + 16.0 * k
        slab(mu, grid, (40.0, y), (85.0, y), 2.0, 4.0, 0.9)
    assert estimate_spacing(expose(mu), "auto") is None


def test_none_looks_for_nothing():
    assert estimate_spacing(with_ruler("cm", 1.0), "none") is None


# ---------------------------------------------------------------- balls

BALL_CASES = SynthConfig(
    spacing_mm=0.5,
    families=("dr-clinic", "export-8bit"),
    overrides={
        "accessories.calibration_ball": 1.0,
        "accessories.ball_places": "knee",
        "accessories.ruler": 0.0,
        "accessories.magnification": "1.0,1.2",
        "view.restricted": 0.0,
    },
)


@pytest.mark.parametrize("index", [2, 3])
def test_ball_of_given_diameter_within_one_percent_of_the_generators_truth(index):
    """The generator's physics (scatter, blur, display processing; a 12-bit TIFF and an
    8-bit JPEG), the ball beside a knee at a drawn magnification."""
    case = generate_case(3, index, BALL_CASES)
    truth = case.meta["calibration"]
    assert truth["ball"] and truth["ball_visible"] == 1.0 and truth["magnification"] > 1.0
    estimate = estimate_spacing(case.bone_bright, "ball:25mm")
    assert estimate is not None and estimate.object == "ball"
    assert estimate.spacing_mm == pytest.approx(truth["spacing_mm"], rel=0.01)


def test_auto_does_not_assume_a_balls_diameter():
    case = generate_case(3, 2, BALL_CASES)
    assert estimate_spacing(case.bone_bright, "auto") is None


def with_head_on_neck(diameter: float = 28.0) -> np.ndarray:
    mu, grid = film()
    centre, r = (100.0, 600.0), diameter / 2
    ellipsoid(mu, grid, centre, (r, r), r, 0.9)
    slab(mu, grid, centre, (centre[0] + 40.0, centre[1] + 50.0), 7.0, 12.0, 0.9)
    return expose(mu)


def test_a_round_head_on_a_neck_is_not_a_calibration_ball():
    assert estimate_spacing(with_head_on_neck(), "ball:28mm") is None


# ---------------------------------------------------------------- precedence


def radiograph(pixels: np.ndarray, spacing=None, source: str = "none in file") -> Radiograph:
    return Radiograph(
        path=__import__("pathlib").Path("film.dcm"),
        pixels=pixels,
        spacing=spacing,
        spacing_source=source,
        photometric="MONOCHROME2",
        stored_dtype="uint16",
        format="DICOM",
    )


def test_object_spacing_used_where_the_file_has_none():
    used, found, by_object = apply_object(radiograph(with_ruler("5mm", 1.1)), ObjectChoice())
    assert by_object and used.spacing_source == "ruler"
    assert used.spacing[0] == pytest.approx(SPACING / 1.1, rel=0.005)
    assert found.as_dict()["found"] is True


def test_a_files_own_spacing_is_kept_and_both_reported():
    own = radiograph(with_ruler("5mm", 1.1), (0.5, 0.5), "DICOM PixelSpacing")
    used, found, by_object = apply_object(own, ObjectChoice())
    assert not by_object and used.spacing == (0.5, 0.5)
    assert used.spacing_source == "DICOM PixelSpacing"
    assert found.magnification == pytest.approx(1.1, rel=0.005)
    assert "magnification of 1.10" in found.note and "--spacing-from object" in found.note


def test_spacing_from_object_uses_the_objects_and_names_the_files():
    own = radiograph(with_ruler("5mm", 1.1), (0.5, 0.5), "DICOM PixelSpacing")
    used, _found, by_object = apply_object(own, ObjectChoice(), "object")
    assert by_object and used.spacing_source == "ruler"
    assert used.spacing[0] == pytest.approx(0.5 / 1.1, rel=0.005)
    assert "DICOM PixelSpacing" in used.meta["spacing_note"]


def test_a_given_spacing_bounds_the_objects_where_the_file_has_none():
    """--spacing 0.5 (the detector's) and a ruler at 1.1×: within 0.8–1.3, the ruler's
    spacing is used (before --spacing, as documented); --spacing 2 would put the ruler at
    4.4×: refused with a note, and the caller's --spacing applies."""
    film_ = radiograph(with_ruler("5mm", 1.1))
    used, found, by_object = apply_object(film_, ObjectChoice(), given=(0.5, 0.5))
    assert by_object and used.spacing[0] == pytest.approx(SPACING / 1.1, rel=0.005)
    used, found, by_object = apply_object(film_, ObjectChoice(), given=(2.0, 2.0))
    assert not by_object and used.spacing is None
    entry = found.as_dict()
    assert entry["found"] is False and entry["refused"] is True
    assert "refused" in entry["note"] and "--spacing 2×2 mm/px" in entry["note"]
    assert "magnification of 4.4" in entry["note"] and "0.8–1.3" in entry["note"]
    assert "refused" in found.summary_note(used=False)


@pytest.mark.parametrize("spacing_from", ["file", "object"])
def test_a_files_own_spacing_bounds_the_objects(spacing_from):
    """A DICOM's 0.25 mm/px against a ruler at 0.45 (magnification 0.55): a misread ruler
    or a wrong tag — the ruler is refused, never used, whatever --spacing-from says."""
    own = radiograph(with_ruler("5mm", 1.1), (0.25, 0.25), "DICOM PixelSpacing")
    used, found, by_object = apply_object(own, ObjectChoice(), spacing_from)
    assert not by_object and used.spacing == (0.25, 0.25)
    assert found.refused and found.estimate is None
    assert "the file's 0.25×0.25 mm/px (DICOM PixelSpacing)" in found.note


def test_no_object_found_says_so_and_sets_nothing():
    mu, _ = film()
    used, found, by_object = apply_object(radiograph(expose(mu)), ObjectChoice())
    assert not by_object and used.spacing is None
    assert found.as_dict() == {"found": False, "note": NOT_FOUND}


# ---------------------------------------------------------------- synthetic truth


def test_generator_records_the_calibration_truth_at_the_objects_magnification():
    config = SynthConfig(
        spacing_mm=1.0,
        families=("dr-clinic",),
        overrides={
            "accessories.ruler": 1.0,
            "accessories.ruler_places": "right",
            "accessories.ruler_styles": "numbered",
            "accessories.magnification": "1.1",
        },
    )
    case = generate_case(5, 0, config)
    truth = case.meta["calibration"]
    assert truth["ruler"] and truth["ruler_style"] == "numbered"
    assert truth["spacing_mm"] == pytest.approx(1.0 / 1.1)
    assert truth["ruler_mm"] > 300
    estimate = estimate_spacing(case.bone_bright, "auto", expected_mm=case.spacing)
    assert estimate is not None
    assert estimate.spacing_mm == pytest.approx(truth["spacing_mm"], rel=0.01)


def test_calibration_settings_are_validated_like_the_others():
    with pytest.raises(ValueError, match="ruler_styles"):
        SynthConfig(overrides={"accessories.ruler_styles": "inch"})
    with pytest.raises(ValueError, match="probability"):
        SynthConfig(overrides={"accessories.occluded": 2})


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((2000, 400), np.uint16),  # blank
        np.full((40, 30000), 7, np.uint8),  # a sliver, long side far above the work size
        np.zeros((20000, 20), np.float32),
        np.random.default_rng(0).integers(0, 65535, (1500, 500), dtype=np.uint16),  # noise
    ],
    ids=["blank", "wide-sliver", "tall-sliver", "noise"],
)
@pytest.mark.parametrize("choice", ["auto", "ball:25mm"])
def test_odd_images_give_no_spacing_and_no_error(pixels, choice):
    assert estimate_spacing(pixels, choice) is None
