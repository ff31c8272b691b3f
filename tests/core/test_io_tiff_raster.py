"""TIFF resolution tags and PNG/JPEG (no spacing)."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from apn_core.errors import ImageReadError
from apn_core.io import read_radiograph, write_tiff


def test_tiff_resolution_per_cm_and_per_inch(tmp_path):
    data = (np.arange(12, dtype=np.uint16) * 1000).reshape(3, 4)
    write_tiff(tmp_path / "cm.tif", data, (0.143, 0.2))
    r = read_radiograph(tmp_path / "cm.tif")
    assert r.spacing == pytest.approx((0.143, 0.2))
    assert "per cm" in r.spacing_source
    np.testing.assert_array_equal(r.pixels, data)

    tifffile.imwrite(tmp_path / "inch.tif", data, resolution=(254.0, 127.0), resolutionunit="INCH")
    r = read_radiograph(tmp_path / "inch.tif")
    assert r.spacing == pytest.approx((0.2, 0.1))  # 25.4 mm / 127 dpi rows, / 254 dpi cols


def test_tiff_without_physical_resolution_has_no_spacing(tmp_path):
    data = np.zeros((3, 4), np.uint16)
    tifffile.imwrite(tmp_path / "none.tif", data, resolution=(1, 1), resolutionunit="NONE")
    tifffile.imwrite(tmp_path / "dpi.tif", data, resolution=(72, 72), resolutionunit="INCH")
    assert read_radiograph(tmp_path / "none.tif").spacing is None
    r = read_radiograph(tmp_path / "dpi.tif")
    assert r.spacing is None and "72 dpi" in r.spacing_source


def test_tiff_imagej_unit_mm(tmp_path):
    data = np.zeros((3, 4), np.uint16)
    tifffile.imwrite(
        tmp_path / "ij.tif",
        data,
        imagej=True,
        resolution=(1 / 0.5, 1 / 0.25),
        metadata={"unit": "mm"},
    )
    r = read_radiograph(tmp_path / "ij.tif")
    assert r.spacing == pytest.approx((0.25, 0.5))


def test_miniswhite_tiff_is_inverted(tmp_path):
    data = np.array([[0, 65535]], np.uint16)
    tifffile.imwrite(tmp_path / "w.tif", data, photometric="miniswhite")
    pixels = read_radiograph(tmp_path / "w.tif").pixels
    np.testing.assert_array_equal(pixels, [[65535, 0]])
    assert pixels.dtype == np.uint16  # unsigned: ~x in place
    signed = np.array([[-5, 0, 7]], np.int16)
    tifffile.imwrite(tmp_path / "s.tif", signed, photometric="miniswhite")
    pixels = read_radiograph(tmp_path / "s.tif").pixels
    assert pixels.dtype == np.float32  # 32767 − x would wrap around in int16
    np.testing.assert_array_equal(pixels, 32767.0 - signed)
    floats = np.array([[0.5, 2.0]], np.float32)
    tifffile.imwrite(tmp_path / "f.tif", floats, photometric="miniswhite")
    np.testing.assert_array_equal(read_radiograph(tmp_path / "f.tif").pixels, [[1.5, 0.0]])


def test_png_16bit_and_rgb_gray_have_no_spacing(tmp_path):
    data = (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)
    iio.imwrite(tmp_path / "a.png", data)
    r = read_radiograph(tmp_path / "a.png")
    np.testing.assert_array_equal(r.pixels, data)
    assert r.pixels.dtype == np.uint16  # kept as stored (Radiograph.pixels)
    assert r.spacing is None and r.stored_dtype == "uint16"
    rgb = np.repeat((data // 256).astype(np.uint8)[..., None], 3, axis=2)
    iio.imwrite(tmp_path / "b.png", rgb)
    np.testing.assert_array_equal(read_radiograph(tmp_path / "b.png").pixels, rgb[..., 0])
    assert read_radiograph(tmp_path / "b.png", spacing=0.5).spacing == (0.5, 0.5)


def test_colour_and_corrupt_raster_files_are_rejected(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200
    iio.imwrite(tmp_path / "colour.png", rgb)
    with pytest.raises(ImageReadError, match="colour image"):
        read_radiograph(tmp_path / "colour.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(ImageReadError, match=r"broken\.png"):
        read_radiograph(tmp_path / "broken.png")
    (tmp_path / "fake.tif").write_bytes(b"II*\x00" + b"\xff" * 10)
    with pytest.raises(ImageReadError, match=r"fake\.tif"):
        read_radiograph(tmp_path / "fake.tif")
    (tmp_path / "text.jpg").write_text("not a jpeg")
    with pytest.raises(ImageReadError, match="not a JPG image"):
        read_radiograph(tmp_path / "text.jpg")


def test_tiff_equal_page_stack_and_planar_gray(tmp_path):
    data = (np.arange(64 * 48, dtype=np.uint16) % 1000).reshape(64, 48)
    with tifffile.TiffWriter(tmp_path / "stack.tif") as tif:
        tif.write(data)
        tif.write(data)
    with pytest.raises(ImageReadError, match=r"multi-frame TIFF \(2 pages of 64 × 48\)"):
        read_radiograph(tmp_path / "stack.tif")
    planar = np.stack([data] * 3)
    tifffile.imwrite(tmp_path / "planar.tif", planar, photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_radiograph(tmp_path / "planar.tif").pixels, data)


def test_palette_and_bilevel_png_are_expanded_not_read_as_indices(tmp_path):
    from PIL import Image

    gray = (np.arange(20, dtype=np.uint8) * 12).reshape(4, 5)
    Image.fromarray(gray).convert("P").save(tmp_path / "p.png")  # gray palette
    np.testing.assert_array_equal(read_radiograph(tmp_path / "p.png").pixels, gray)
    Image.fromarray(gray > 100).save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_radiograph(tmp_path / "b.png").pixels, (gray > 100) * 255)


def test_a_colour_refusal_says_how_to_convert(tmp_path):
    """Colour JPEG/DICOM refusals gave no hint how to convert (issue 18)."""
    from pydicom.data import get_testdata_file

    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200
    iio.imwrite(tmp_path / "leg 1.jpg", rgb)
    with pytest.raises(ImageReadError) as err:
        read_radiograph(tmp_path / "leg 1.jpg")
    assert str(err.value).endswith(
        "a radiograph is grayscale: convert it first, e.g. magick 'leg 1.jpg' -colorspace Gray "
        "'leg 1-gray.png' (ImageMagick), or in Python: PIL.Image.open('leg 1.jpg')"
        ".convert('L').save('leg 1-gray.png') (give the spacing with --spacing MM or "
        "spacing_mm in landmarks.csv)"
    )
    with pytest.raises(ImageReadError) as err:
        read_radiograph(get_testdata_file("SC_rgb_jpeg.dcm"))
    message = str(err.value)
    assert "export the grayscale original from the archive, or convert it first" in message
    assert "magick SC_rgb_jpeg.dcm -colorspace Gray SC_rgb_jpeg-gray.png" in message
    assert "a PNG has no pixel spacing: give it with --spacing MM" in message
