"""Files that mean something other than the plain reading gives: each is done right
(Orientation applied, MONOCHROME1 in any case, a valid file read) or refused with its
reason (palette, complex, 16-bit colour, BitsStored 0, a calibration of another model,
a row naming a file outside the folder) — never silently reinterpreted.
(Hardening round 2, issue 19.)"""

from __future__ import annotations

import json
import logging

import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image

from apn_core.dataset import load_labelled_folder
from apn_core.errors import FileProblem, ImageReadError
from apn_core.inference import Predictor
from apn_core.inference.model_store import BUNDLED_DIR
from apn_core.io import read_radiograph, write_dicom
from tests.hostile import crafted

# ---------------------------------------------------------------- orientation


@pytest.mark.parametrize("code", [2, 3, 4, 5, 6, 7, 8])
def test_tiff_orientation_is_applied_and_the_spacing_follows(tmp_path, code):
    stored = crafted.small_image(6, 4)
    path = tmp_path / "o.tif"
    tifffile.imwrite(  # X: 10 px/mm → col 0.1 mm; Y: 5 px/mm → row 0.2 mm (stored axes)
        path,
        stored,
        resolution=(100, 50),
        resolutionunit="CENTIMETER",
        extratags=[(274, "H", 1, code, True)],
    )
    radiograph = read_radiograph(path)
    shown = Image.fromarray(stored.astype(np.int32)).transpose(_PIL_TURN[code])
    assert np.array_equal(radiograph.pixels, np.asarray(shown))
    assert radiograph.spacing == ((0.1, 0.2) if code >= 5 else (0.2, 0.1))
    assert f"TIFF Orientation {code}" in radiograph.meta["orientation"]


_PIL_TURN = {  # what every viewer does for the EXIF/TIFF Orientation tag (PIL.ImageOps)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_exif_orientation_is_applied(tmp_path, fmt):
    stored = (crafted.small_image(24, 16) % 251).astype(np.uint8)
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[274] = 6
    path = tmp_path / f"o.{'png' if fmt == 'png' else 'jpg'}"
    image.save(path, exif=exif, quality=100)
    radiograph = read_radiograph(path)
    assert radiograph.shape == (16, 24)  # turned upright: 24 rows became 24 columns
    assert "EXIF Orientation 6" in radiograph.meta["orientation"]
    if fmt == "png":
        assert np.array_equal(radiograph.pixels, np.rot90(stored, -1))


def test_landmarks_refer_to_the_image_as_displayed(tmp_path):
    """A landmark on the displayed image is in the image: a folder check sees the turned
    size (rows and columns swapped), not the stored one."""
    data = tmp_path / "data"
    data.mkdir()
    tifffile.imwrite(
        data / "leg.tif",
        crafted.small_image(20, 60),  # stored 20 rows × 60 columns, displayed 60 × 20
        resolution=(10, 10),
        resolutionunit="CENTIMETER",
        extratags=[(274, "H", 1, 6, True)],
    )
    (data / "landmarks.csv").write_text("image,landmark,x,y\nleg.tif,knee_left,5,50\n")
    folder = load_labelled_folder(data)
    assert folder.report.ok, [str(p) for p in folder.report.problems]


# ---------------------------------------------------------------- refused with a reason


def test_palette_color_dicom_is_refused(tmp_path):
    path = tmp_path / "p.dcm"
    write_dicom(path, crafted.small_image(), (0.5, 0.5))
    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = "PALETTE COLOR"
    ds.save_as(path)
    with pytest.raises(ImageReadError, match="PALETTE COLOR DICOM: its pixel values index"):
        read_radiograph(path)


def test_palette_tiff_is_refused(tmp_path):
    path = tmp_path / "p.tif"
    colormap = np.tile(np.arange(256, dtype=np.uint16) * 257, (3, 1))
    tifffile.imwrite(
        path,
        (crafted.small_image() % 256).astype(np.uint8),
        photometric="palette",
        colormap=colormap,
    )
    with pytest.raises(ImageReadError, match="palette-colour TIFF"):
        read_radiograph(path)


def test_complex_tiff_is_refused(tmp_path):
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, crafted.small_image().astype(np.complex64) * (1 + 1j))
    with pytest.raises(ImageReadError, match="complex-valued pixels"):
        read_radiograph(path)


def test_sixteen_bit_colour_png_is_refused(tmp_path):
    path = tmp_path / "rgb16.png"
    rgb = np.dstack([crafted.small_image() * 16, crafted.small_image(), crafted.small_image()])
    path.write_bytes(crafted.png_bytes(rgb.astype(">u2"), color_type=2))
    assert path.read_bytes()[24:26] == b"\x10\x02"  # IHDR: 16 bits, RGB
    with pytest.raises(ImageReadError, match="16-bit colour PNG"):
        read_radiograph(path)


def test_monochrome1_is_matched_in_any_case(tmp_path):
    stored = crafted.small_image()
    write_dicom(tmp_path / "upper.dcm", stored, (0.5, 0.5), photometric="MONOCHROME1")
    ds = pydicom.dcmread(tmp_path / "upper.dcm")
    ds.PhotometricInterpretation = "monochrome1"
    ds.save_as(tmp_path / "lower.dcm")
    upper, lower = (read_radiograph(tmp_path / f"{n}.dcm").pixels for n in ("upper", "lower"))
    assert np.array_equal(upper, lower)
    assert not np.array_equal(lower, stored)  # inverted: bone bright


def test_bits_stored_zero_is_a_malformed_header_not_a_blank_image(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_dicom(data / "a.dcm", crafted.small_image(), (0.5, 0.5))
    ds = pydicom.dcmread(data / "a.dcm")
    ds.BitsStored = 0
    ds.save_as(data / "a.dcm")
    with pytest.raises(ImageReadError, match="malformed DICOM header: BitsStored is 0"):
        read_radiograph(data / "a.dcm")
    (data / "landmarks.csv").write_text("image,landmark,x,y\na.dcm,knee_left,1,1\n")
    report = load_labelled_folder(data).report
    assert report.counts()["unreadable-image"] == 1 and "blank-image" not in report.counts()


# ---------------------------------------------------------------- calibration of another model


def _calibration(tmp_path, **fitted_on) -> object:
    data = json.loads((BUNDLED_DIR / "default" / "calibration.json").read_text())
    data["fitted_on"].update(fitted_on)
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(data))
    return path


def test_a_calibration_fitted_on_other_weights_is_refused(tmp_path):
    path = _calibration(tmp_path, weights_sha256="0" * 64)
    with pytest.raises(FileProblem, match=r"was fitted on other weights \(SHA-256 000000000000"):
        Predictor.load("default", calibration=path)


def test_a_calibration_without_a_checksum_for_another_model_is_warned_about(tmp_path, caplog):
    path = _calibration(tmp_path, model="/elsewhere/run")
    data = json.loads(path.read_text())
    del data["fitted_on"]["weights_sha256"]  # written by an older napari-apn
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        Predictor.load("default", calibration=path)
    assert "cannot be verified to belong to the model bundled:default" in caplog.text
    assert "fitted on /elsewhere/run" in caplog.text


def test_the_bundled_calibration_loads_without_a_word(caplog):
    with caplog.at_level(logging.WARNING):
        assert Predictor.load("default").calibrator is not None
    assert "calibration" not in caplog.text


# ---------------------------------------------------------------- the napari writer


@pytest.mark.parametrize("image", ["../../etc/passwd", "/etc/passwd", "C:\\x.dcm"])
def test_napari_writer_refuses_rows_its_reader_would_refuse(tmp_path, image):
    from napari_apn._writer import write_points

    meta = {
        "name": "landmarks",
        "features": {"label": ["knee_left"]},
        "metadata": {"apn_image": image},
        "scale": (1.0, 1.0),
        "units": ("pixel", "pixel"),
    }
    with pytest.raises(FileProblem, match="cannot write a row for this image"):
        write_points(str(tmp_path / "landmarks.csv"), np.array([[10.0, 5.0]]), meta)
    assert not (tmp_path / "landmarks.csv").exists()
