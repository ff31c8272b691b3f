"""Extreme numbers are checked where they enter — a spacing, a pixel value, a coordinate —
with a clear error for that file, and a failing file never costs a batch the results of
the others. (Hardening round 2, issue 19.)"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import tifffile

from apn_core.annotations import read_landmarks_csv
from apn_core.errors import AnnotationError, ImageReadError, NonFinitePixelsError
from apn_core.geometry import network_input
from apn_core.io import read_radiograph, write_dicom
from apn_core.landmarks import DEFAULT_LANDMARKS as LM
from apn_core.presets import get_preset
from apn_core.synth import SynthConfig, write_synthetic_folder
from tests.hostile.cli import make_tiny_run, run_apn


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An untrained ``tiny`` run folder: these tests are about numbers, and it is fast."""
    return make_tiny_run(tmp_path_factory.mktemp("tiny"))


@pytest.mark.parametrize("option", ["--override-spacing", "--spacing"])
@pytest.mark.parametrize("value", ["1e38", "1e-300"])
def test_an_absurd_spacing_option_is_refused_naming_it(tmp_path, capsys, option, value):
    code, _, err = run_apn(capsys, "info", tmp_path / "x.dcm", "--spacing", value)
    if option == "--override-spacing":
        code, _, err = run_apn(
            capsys, "predict", tmp_path / "x.dcm", "--out", tmp_path / "o", option, value
        )
    assert code == 2 and f"argument {option}: spacing '{value}' is outside 0.001–100 mm/px" in err


@pytest.mark.parametrize("value", ["1e300", "1e-300"])
def test_an_absurd_dicom_spacing_is_no_spacing(tmp_path, value):
    write_dicom(tmp_path / "a.dcm", np.arange(384, dtype=np.uint16).reshape(24, 16), (0.5, 0.5))
    ds = pydicom.dcmread(tmp_path / "a.dcm")
    ds.PixelSpacing = [value, value]
    ds.save_as(tmp_path / "a.dcm")
    radiograph = read_radiograph(tmp_path / "a.dcm")
    assert radiograph.spacing is None
    assert radiograph.spacing_source == f"DICOM PixelSpacing is invalid ('{value}\\{value}')"


def test_one_file_with_an_absurd_spacing_never_costs_the_batch(tmp_path, tiny, capsys):
    data = write_synthetic_folder(
        tmp_path / "data", 3, seed=21, config=SynthConfig(spacing_mm=2.0, formats=("dicom",))
    )
    bad = sorted(data.glob("*.dcm"))[1]
    ds = pydicom.dcmread(bad)
    ds.PixelSpacing = ds.ImagerPixelSpacing = ["1e300", "1e300"]
    ds.save_as(bad)
    out = tmp_path / "out"
    code, text, _ = run_apn(
        capsys, "predict", data, "--out", out, "--model", tiny, "--workers", "0", "--no-flip",
        "--calibration-object", "none",  # the film's ruler would give it a spacing
    )  # fmt: skip
    assert code == 1 and text.startswith("2 predicted, 0 already done, 1 failed")
    assert f"failed: {bad.name}: no pixel spacing" in text
    table = (out / "landmarks.csv").read_text()
    assert table.count(".dcm,") == 12 and bad.name not in table  # the others' results


def test_float64_pixels_beyond_float32_are_named_so_not_non_finite(tmp_path):
    ds = pydicom.dcmread(write_dicom(tmp_path / "a.dcm", np.ones((6, 8), np.uint16), (0.5, 0.5)))
    data = np.linspace(0, 1, 48).reshape(6, 8) * 1e303
    del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    ds.BitsAllocated = 64
    ds.DoubleFloatPixelData = data.tobytes()
    ds.save_as(tmp_path / "f.dcm")
    with pytest.raises(ImageReadError) as err:
        read_radiograph(tmp_path / "f.dcm")
    assert not isinstance(err.value, NonFinitePixelsError)
    assert "pixel values reach 1e+303, beyond ±3.4e+38 (float32" in str(err.value)
    tifffile.imwrite(tmp_path / "f.tif", data)
    with pytest.raises(ImageReadError, match="pixel values reach 1e\\+303"):
        read_radiograph(tmp_path / "f.tif")


def test_a_rescale_beyond_float32_is_named(tmp_path):
    write_dicom(tmp_path / "a.dcm", np.arange(384, dtype=np.uint16).reshape(24, 16), (0.5, 0.5))
    ds = pydicom.dcmread(tmp_path / "a.dcm")
    ds.RescaleSlope = "1e300"
    ds.save_as(tmp_path / "a.dcm")
    with pytest.raises(ImageReadError, match=r"reach 3\.83e\+302 after RescaleSlope"):
        read_radiograph(tmp_path / "a.dcm")


def test_finite_float32_extremes_reach_the_network_as_the_image(tmp_path):
    """±3e38 float32 pixels: hi − lo overflowed, every input pixel was NaN and every
    landmark "absent", none flagged. Now the input is the image's, whatever its scale."""
    rng = np.random.default_rng(0)
    image = rng.random((300, 120)).astype(np.float32)
    image[100:200, 40:80] += 2.0
    tifffile.imwrite(tmp_path / "big.tif", (image - 1.5) * np.float32(2e38))
    pixels = read_radiograph(tmp_path / "big.tif").pixels
    assert np.abs(pixels).max() > 2.9e38 and np.isfinite(pixels).all()
    geometry = get_preset("tiny").geometry
    scaled, _ = network_input(pixels, geometry)
    plain, _ = network_input(image, geometry)
    assert np.isfinite(scaled).all()
    np.testing.assert_allclose(scaled, plain, atol=1e-5)


def test_coordinates_beyond_any_image_are_refused_where_they_enter(tmp_path, capsys):
    """One prediction at x = 1e308 turned the overall MRE into "– ± –" with no reason."""
    data = write_synthetic_folder(
        tmp_path / "data", 2, seed=5, config=SynthConfig(spacing_mm=2.0, formats=("dicom",))
    )
    lines = (data / "landmarks.csv").read_text().splitlines()
    cells = lines[1].split(",")
    cells[2] = "1e308"
    pred = tmp_path / "pred.csv"
    pred.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    with pytest.raises(AnnotationError, match="beyond ±1,000,000 px"):
        read_landmarks_csv(pred, LM)
    code, text, err = run_apn(capsys, "evaluate", data, "--pred", pred, "--out", tmp_path / "ev")
    assert code == 2 and "x='1e308'" in err and "beyond ±1,000,000 px" in err
    assert "– ± –" not in text
