"""DICOM reading, on pydicom's own test files (written by others) and on files we write."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from apn_core.errors import ImageReadError, SpacingMissingError
from apn_core.io import read_radiograph, write_dicom


def test_ct_small_reads_with_rescale_and_pixel_spacing():
    import pydicom

    path = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    r = read_radiograph(path)
    assert r.shape == (128, 128)
    assert r.pixels.dtype == np.float32
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(r.pixels, expected)
    assert r.spacing == pytest.approx((0.661468, 0.661468))
    assert r.spacing_source == "DICOM PixelSpacing"


@pytest.mark.parametrize(
    "name", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"]
)
def test_compressed_transfer_syntaxes_decode_like_the_uncompressed_file(name):
    reference = read_radiograph(get_testdata_file("MR_small.dcm"))
    r = read_radiograph(get_testdata_file(name))
    np.testing.assert_array_equal(r.pixels, reference.pixels)
    assert r.meta["transfer_syntax"] != "Explicit VR Little Endian"


def test_missing_decoder_names_the_package(monkeypatch):
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEG2000

    decoder_class = type(get_decoder(JPEG2000))
    monkeypatch.setattr(decoder_class, "is_available", property(lambda self: False))
    path = get_testdata_file("JPEG2000.dcm")
    with pytest.raises(ImageReadError) as err:
        read_radiograph(path)
    msg = str(err.value)
    assert "JPEG2000.dcm" in msg and "no decoder is installed" in msg and "dicom-codecs" in msg


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("MR_truncated.dcm", "truncated file"),
        ("rtplan.dcm", "without image pixel data"),
        ("SC_rgb_jpeg.dcm", "colour DICOM"),
        ("SC_rgb_rle_2frame.dcm", "colour DICOM"),
    ],
)
def test_unusable_real_files_give_one_clear_error(name, fragment):
    path = get_testdata_file(name)
    with pytest.raises(ImageReadError) as err:
        read_radiograph(path)
    assert name in str(err.value) and fragment in str(err.value)


def test_multiframe_grayscale_rejected(tmp_path):
    import pydicom

    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    frames = np.stack([ds.pixel_array] * 2)
    ds.NumberOfFrames = 2
    ds.PixelData = frames.tobytes()
    ds.save_as(tmp_path / "two.dcm")
    with pytest.raises(ImageReadError, match="multi-frame DICOM"):
        read_radiograph(tmp_path / "two.dcm")


def test_monochrome1_is_inverted_so_bone_is_bright(tmp_path):
    bone_bright = np.array([[0, 100], [2000, 4095]], dtype=np.uint16)
    write_dicom(tmp_path / "m1.dcm", 4095 - bone_bright, (0.2, 0.2), "MONOCHROME1", bits_stored=12)
    write_dicom(tmp_path / "m2.dcm", bone_bright, (0.2, 0.2), "MONOCHROME2", bits_stored=12)
    m1, m2 = read_radiograph(tmp_path / "m1.dcm"), read_radiograph(tmp_path / "m2.dcm")
    np.testing.assert_array_equal(m1.pixels, bone_bright)
    np.testing.assert_array_equal(m1.pixels, m2.pixels)
    assert m1.pixels.dtype == m2.pixels.dtype == np.uint16  # inverted in place, no float copy
    assert m1.photometric == "MONOCHROME1"


def test_imager_pixel_spacing_used_and_named_when_pixel_spacing_absent(tmp_path):
    import pydicom

    write_dicom(tmp_path / "a.dcm", np.zeros((4, 5), np.uint16), (0.15, 0.16))
    ds = pydicom.dcmread(tmp_path / "a.dcm")
    del ds.PixelSpacing
    ds.save_as(tmp_path / "a.dcm")
    r = read_radiograph(tmp_path / "a.dcm")
    assert r.spacing == pytest.approx((0.15, 0.16))
    assert r.spacing_source.startswith("DICOM ImagerPixelSpacing")

    del ds.ImagerPixelSpacing
    ds.save_as(tmp_path / "a.dcm")
    r = read_radiograph(tmp_path / "a.dcm")
    assert r.spacing is None
    with pytest.raises(SpacingMissingError, match=r"a\.dcm.*--spacing"):
        r.require_spacing()
    given = read_radiograph(tmp_path / "a.dcm", spacing=0.3, spacing_source="--spacing")
    assert given.spacing == (0.3, 0.3) and given.spacing_source == "--spacing"


def test_non_dicom_and_missing_files(tmp_path):
    (tmp_path / "notes.dcm").write_text("hello, I am not a DICOM file at all")
    with pytest.raises(ImageReadError, match=r"notes\.dcm"):
        read_radiograph(tmp_path / "notes.dcm")
    with pytest.raises(ImageReadError, match="file not found"):
        read_radiograph(tmp_path / "nope.dcm")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ImageReadError, match="unsupported file type"):
        read_radiograph(tmp_path / "x.txt")


def test_float_pixel_data_is_read(tmp_path):
    import pydicom

    ds = pydicom.dcmread(write_dicom(tmp_path / "a.dcm", np.zeros((3, 4), np.uint16), (0.5, 0.5)))
    data = np.linspace(-1.5, 2.5, 12, dtype=np.float32).reshape(3, 4)
    del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    ds.BitsAllocated = 32
    ds.FloatPixelData = data.tobytes()
    ds.save_as(tmp_path / "f.dcm")
    r = read_radiograph(tmp_path / "f.dcm")
    np.testing.assert_array_equal(r.pixels, data)
    assert r.stored_dtype == "float32" and r.spacing == (0.5, 0.5)
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(tmp_path / "f1.dcm")
    np.testing.assert_allclose(read_radiograph(tmp_path / "f1.dcm").pixels, 1.0 - data)


def test_garbage_count_tags_are_clear_errors(tmp_path):
    import pydicom

    write_dicom(tmp_path / "a.dcm", np.zeros((3, 4), np.uint16), (0.5, 0.5))
    ds = pydicom.dcmread(tmp_path / "a.dcm")
    ds.NumberOfFrames = "7"
    ds.save_as(tmp_path / "a.dcm")
    data = (tmp_path / "a.dcm").read_bytes()
    (tmp_path / "a.dcm").write_bytes(data.replace(b"7 ", b"x "))
    with pytest.raises(ImageReadError, match="NumberOfFrames is 'x', not a whole number"):
        read_radiograph(tmp_path / "a.dcm")


def test_uncompressed_pixels_stay_the_stored_integers_bit_for_bit(tmp_path):
    """Read straight from the file (no pydicom copy, no float32 copy): the same values and
    type as pydicom's pixel_array, odd sizes included."""
    import pydicom

    stored = np.random.default_rng(0).integers(0, 4096, (301, 157)).astype(np.uint16)
    write_dicom(tmp_path / "a.dcm", stored, (0.2, 0.2), bits_stored=12)
    expected = pydicom.dcmread(tmp_path / "a.dcm").pixel_array
    with _without_pydicom_decoding():
        r = read_radiograph(tmp_path / "a.dcm")
    assert r.pixels.dtype == np.uint16 and r.pixels.flags.writeable
    np.testing.assert_array_equal(r.pixels, stored)
    np.testing.assert_array_equal(r.pixels, expected)


@contextmanager
def _without_pydicom_decoding():
    """pydicom's decoder fails inside: what reads there used the direct path (uncompressed
    little endian, pixel data above the 64 kB deferral size)."""
    import pydicom

    def refuse(self):
        raise AssertionError("pydicom's pixel_array was used")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pydicom.dataset.Dataset, "pixel_array", property(refuse))
        yield


def test_signed_and_big_endian_files_read_like_pydicom():
    import pydicom

    little = read_radiograph(get_testdata_file("MR_small.dcm"))  # int16, little endian
    big = read_radiograph(get_testdata_file("MR_small_bigendian.dcm"))  # through pydicom
    expected = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array
    assert little.pixels.dtype == np.int16
    np.testing.assert_array_equal(little.pixels, expected)
    np.testing.assert_array_equal(big.pixels, expected)


def test_eight_bit_and_signed_monochrome1_are_inverted_in_their_type(tmp_path):
    import pydicom

    write_dicom(tmp_path / "a.dcm", np.zeros((3, 5), np.uint16), (0.2, 0.2))
    ds = pydicom.dcmread(tmp_path / "a.dcm")
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = np.arange(15, dtype=np.uint8).reshape(3, 5).tobytes() + b"\0"
    ds.save_as(tmp_path / "u8.dcm")
    u8 = read_radiograph(tmp_path / "u8.dcm").pixels
    assert u8.dtype == np.uint8
    np.testing.assert_array_equal(u8, 255 - np.arange(15).reshape(3, 5))

    signed = np.array([[-2048, -1, 0], [1, 100, 2047]], np.int16)
    ds.Rows, ds.Columns = signed.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
    ds.PixelData = signed.tobytes()
    ds.save_as(tmp_path / "s16.dcm")
    s16 = read_radiograph(tmp_path / "s16.dcm").pixels
    assert s16.dtype == np.int16  # (lo + hi) − x = (−2048 + 2047) − x
    np.testing.assert_array_equal(s16, -1 - signed.astype(np.int32))


@pytest.mark.parametrize("signed", [False, True])
def test_bits_above_bits_stored_are_ignored_like_pydicom(tmp_path, signed):
    """Some writers leave the unused high bits set; pydicom clears them (or sign-extends
    from BitsStored), and so does the direct read — then MONOCHROME1 cannot wrap around."""
    import pydicom

    raw = np.tile(np.array([[0, 100, 4095], [5000, 0xF800, 0x0FFF]], np.uint16), (100, 60))
    write_dicom(tmp_path / "a.dcm", raw, (0.2, 0.2), bits_stored=12)  # 72 kB: read directly
    ds = pydicom.dcmread(tmp_path / "a.dcm")
    ds.PixelRepresentation = int(signed)
    ds.PixelData = raw.tobytes()
    for photometric in ("MONOCHROME2", "MONOCHROME1"):
        ds.PhotometricInterpretation = photometric
        ds.save_as(tmp_path / "a.dcm")
        expected = pydicom.dcmread(tmp_path / "a.dcm").pixel_array
        assert int(expected.max()) < 4096  # pydicom did clear the bits
        if photometric == "MONOCHROME1":
            expected = (-1 - expected) if signed else 4095 - expected
        with _without_pydicom_decoding():
            pixels = read_radiograph(tmp_path / "a.dcm").pixels
        assert pixels.dtype == (np.int16 if signed else np.uint16)
        np.testing.assert_array_equal(pixels, expected)


def test_rescaled_monochrome1_is_float32_and_inverted_over_the_rescaled_range(tmp_path):
    import pydicom

    stored = np.array([[0, 100], [2000, 4095]], np.uint16)
    write_dicom(tmp_path / "a.dcm", stored, (0.2, 0.2), "MONOCHROME1", bits_stored=12)
    ds = pydicom.dcmread(tmp_path / "a.dcm")
    ds.RescaleSlope, ds.RescaleIntercept = "2", "-10"
    ds.save_as(tmp_path / "a.dcm")
    r = read_radiograph(tmp_path / "a.dcm")
    assert r.pixels.dtype == np.float32
    lo, hi = -10.0, 4095 * 2 - 10.0
    np.testing.assert_array_equal(r.pixels, (lo + hi) - (stored * 2.0 - 10.0))
