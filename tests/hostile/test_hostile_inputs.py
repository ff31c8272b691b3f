"""Hostile and damaged inputs on the reading side: each costs one clear error, never a
result, a traceback, a hang or the machine's memory.

Every file is crafted small in ``tmp_path``; bombs *declare* a huge size in their header
and are refused before anything is decoded, so each case runs in well under a second.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
import zlib

import imageio.v3 as iio
import numpy as np
import pydicom
import pytest
import tifffile
from pydicom.data import get_testdata_file

from apn_core.annotations import ImageLabels, read_markups, read_napari_points
from apn_core.cli.main import main
from apn_core.dataset import load_labelled_folder
from apn_core.errors import (
    AnnotationError,
    ApnError,
    BlankImageError,
    ImageReadError,
    ImageTooLargeError,
    NonFinitePixelsError,
)
from apn_core.geometry import network_input, normalise_intensity
from apn_core.io import ImageLimits, read_radiograph, write_dicom, write_tiff
from apn_core.landmarks import DEFAULT_LANDMARKS as LM

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")


def _image(rows: int = 24, cols: int = 16) -> np.ndarray:
    """A small non-blank uint16 image."""
    return (np.arange(rows * cols, dtype=np.uint16) * 37 % 4000).reshape(rows, cols)


# ---------------------------------------------------------------- crafted headers


def _png(width: int, height: int, idat: bytes | None = None) -> bytes:
    """A PNG whose IHDR declares ``width`` × ``height`` (8-bit gray), with tiny data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64) if idat is None else idat
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _jpeg_declaring(path, width: int, height: int) -> None:
    """A real 16×16 JPEG whose SOF0 header is patched to declare ``width`` × ``height``."""
    iio.imwrite(path, np.full((16, 16), 128, np.uint8), extension=".jpg")
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    path.write_bytes(bytes(data))


def _tiff_declaring(path, width: int, height: int) -> None:
    """A zlib TIFF of 16×16 whose ImageWidth/ImageLength tags are patched."""
    tifffile.imwrite(path, _image(16, 16), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages.first.tags
        where = {
            name: (tags[name].valueoffset, tags[name].dtype)
            for name in ("ImageWidth", "ImageLength")
        }
    data = bytearray(path.read_bytes())
    for name, value in (("ImageWidth", width), ("ImageLength", height)):
        offset, dtype = where[name]
        struct.pack_into("<H" if int(dtype) == 3 else "<I", data, offset, value)
    path.write_bytes(bytes(data))


def _dicom(path, **tags) -> None:
    """A small valid DICOM, then ``tags`` set as given (no consistency check on save)."""
    write_dicom(path, _image(), (0.5, 0.5))
    ds = pydicom.dcmread(path)
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path)


def _patch_last(path, old: bytes, new: bytes) -> None:
    """Replace the last occurrence of ``old`` by ``new`` (same length) in a file."""
    assert len(old) == len(new)
    data = path.read_bytes()
    k = data.rindex(old)
    path.write_bytes(data[:k] + new + data[k + len(old) :])


# ---------------------------------------------------------------- decompression bombs


@pytest.mark.parametrize("fmt", ["png", "jpeg", "tiff", "dicom", "dicom-rle", "dicom-frames"])
def test_declared_bombs_are_refused_before_decoding(tmp_path, fmt, deadline):
    path = tmp_path / {"png": "b.png", "jpeg": "b.jpg", "tiff": "b.tif"}.get(fmt, "b.dcm")
    if fmt == "png":
        path.write_bytes(_png(100_000, 100_000))
    elif fmt == "jpeg":
        _jpeg_declaring(path, 65_000, 65_000)
    elif fmt == "tiff":
        _tiff_declaring(path, 65_535, 65_535)
    elif fmt == "dicom":
        _dicom(path, Rows=65_535, Columns=65_535)
    elif fmt == "dicom-rle":  # compressed: the decoder would allocate the declared size
        ds = pydicom.dcmread(get_testdata_file("MR_small_RLE.dcm"))
        ds.Rows = ds.Columns = 40_000
        ds.save_as(path)
    else:
        _dicom(path, NumberOfFrames=100_000, Rows=2000, Columns=2000)
    assert path.stat().st_size < 10_000
    deadline(10)
    with pytest.raises(ImageTooLargeError) as err:
        read_radiograph(path)
    msg = str(err.value)
    assert str(path) in msg and "image too large" in msg and "30,000 px a side" in msg
    assert "APN_MAX_IMAGE_PIXELS" in msg


def test_size_limit_is_overridable_by_keyword_and_environment(tmp_path, monkeypatch):
    write_dicom(tmp_path / "a.dcm", _image(24, 16), (0.5, 0.5))
    assert read_radiograph(tmp_path / "a.dcm").shape == (24, 16)
    with pytest.raises(ImageTooLargeError, match="24 × 16 pixels"):
        read_radiograph(tmp_path / "a.dcm", limits=ImageLimits(max_side=20))
    with pytest.raises(ImageTooLargeError, match="384 pixel values"):
        read_radiograph(tmp_path / "a.dcm", limits=ImageLimits(max_pixels=100))
    monkeypatch.setenv("APN_MAX_IMAGE_PIXELS", "100")
    with pytest.raises(ImageTooLargeError):
        read_radiograph(tmp_path / "a.dcm")
    monkeypatch.setenv("APN_MAX_IMAGE_PIXELS", "1_000")
    with pytest.raises(ApnError, match="APN_MAX_IMAGE_PIXELS"):
        read_radiograph(tmp_path / "a.dcm")


def test_our_limit_replaces_pillows_global_one(tmp_path, monkeypatch):
    """A PNG within apn's limit is read even where Pillow's global limit is lower."""
    from PIL import Image

    iio.imwrite(tmp_path / "a.png", _image(30, 40).astype(np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would refuse 1200 px
    assert read_radiograph(tmp_path / "a.png").shape == (30, 40)


def test_truncated_files_are_clear_errors(tmp_path):
    write_dicom(tmp_path / "full.dcm", _image(), (0.5, 0.5))
    (tmp_path / "cut.dcm").write_bytes((tmp_path / "full.dcm").read_bytes()[:-200])
    with pytest.raises(ImageReadError, match=r"cut\.dcm: truncated file.*PixelData"):
        read_radiograph(tmp_path / "cut.dcm")
    tifffile.imwrite(tmp_path / "full.tif", _image(64, 48))
    (tmp_path / "cut.tif").write_bytes((tmp_path / "full.tif").read_bytes()[:-3000])
    with pytest.raises(ImageReadError, match=r"cut\.tif: truncated file"):
        read_radiograph(tmp_path / "cut.tif")
    # A PNG whose declared size is fine but whose data stop early.
    (tmp_path / "cut.png").write_bytes(_png(200, 200, idat=zlib.compress(b"\x00" * 50)))
    with pytest.raises(ImageReadError, match=r"cut\.png"):
        read_radiograph(tmp_path / "cut.png")


def test_dicom_declaring_more_pixel_data_than_it_holds(tmp_path):
    _dicom(tmp_path / "short.dcm", Rows=48)  # header says 48 rows, data hold 24
    with pytest.raises(ImageReadError, match=r"truncated pixel data.*48 × 16"):
        read_radiograph(tmp_path / "short.dcm")


# ---------------------------------------------------------------- non-finite and blank pixels


def test_float_tiff_with_nan_and_inf_is_refused_with_counts(tmp_path):
    data = np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8)
    data[1, 1], data[2, 2], data[3, 3] = np.nan, np.inf, -np.inf
    tifffile.imwrite(tmp_path / "f.tif", data)
    with pytest.raises(NonFinitePixelsError) as err:
        read_radiograph(tmp_path / "f.tif")
    assert "f.tif: 3 of 48 pixel values are not finite (1 NaN, 2 infinite)" in str(err.value)


def test_float_dicom_with_nan_and_bad_rescale_are_refused(tmp_path):
    ds = pydicom.dcmread(write_dicom(tmp_path / "a.dcm", _image(), (0.5, 0.5)))
    data = _image().astype(np.float32)
    data[0, 0] = np.nan
    del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    ds.BitsAllocated = 32
    ds.FloatPixelData = data.tobytes()
    ds.save_as(tmp_path / "f.dcm")
    with pytest.raises(NonFinitePixelsError, match="1 of 384 pixel values"):
        read_radiograph(tmp_path / "f.dcm")
    _dicom(tmp_path / "s.dcm", RescaleSlope="7.0")
    _patch_last(tmp_path / "s.dcm", b"7.0", b"nan")
    with pytest.raises(ImageReadError, match="RescaleSlope is 'nan', not a finite number"):
        read_radiograph(tmp_path / "s.dcm")


@pytest.mark.parametrize(
    ("pixels", "fragment"),
    [
        (np.zeros((40, 30), np.float32), "blank (constant pixel value 0)"),
        (np.full((40, 30), 1234.0, np.float32), "blank (constant pixel value 1234)"),
        (np.pad(np.ones((1, 1), np.float32), ((0, 399), (0, 299))), "no contrast"),
        (np.where(np.eye(40, 30) > 0, np.nan, 1.0).astype(np.float32), "NaN or infinite"),
    ],
)
def test_blank_images_never_reach_the_network(pixels, fragment):
    with pytest.raises(BlankImageError, match=re.escape(fragment)):
        normalise_intensity(pixels)
    from apn_core.config import GeometryConfig

    with pytest.raises(BlankImageError, match=re.escape(fragment.split(" (")[0])):
        network_input(pixels, GeometryConfig())
    named = BlankImageError("the image is blank (constant pixel value 0)", "x.dcm")
    assert str(named) == "x.dcm: the image is blank (constant pixel value 0)"


def test_apn_check_reports_non_finite_blank_and_oversized_images(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    nan = np.ones((20, 10), np.float32)
    nan[3, 3] = np.nan
    tifffile.imwrite(data / "nan.tif", nan)
    write_tiff(data / "blank.tif", np.zeros((20, 10), np.uint16), (0.5, 0.5))
    (data / "bomb.png").write_bytes(_png(100_000, 100_000))
    (data / "landmarks.csv").write_text(
        "image,landmark,x,y,spacing_mm\n"
        "nan.tif,femur_right,1,1,0.5\nblank.tif,femur_right,1,1,\nbomb.png,femur_right,1,1,0.5\n"
    )
    counts = load_labelled_folder(data).report.counts()
    assert counts == {
        "image-too-large": 1,
        "non-finite-pixels": 1,
        "blank-image": 1,
        "no-labelled-images": 1,
    }
    assert main(["check", str(data)]) == 1
    out = capsys.readouterr().out
    assert "error [non-finite-pixels] nan.tif: 1 of 200 pixel values are not finite" in out
    assert "error [blank-image] blank.tif: the image is blank" in out
    assert "problems: image-too-large 1, non-finite-pixels 1, blank-image 1" in out


# ---------------------------------------------------------------- paths in landmarks.csv


@posix_only
def test_paths_outside_data_are_problems_and_never_read(tmp_path, monkeypatch, deadline):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_dicom(outside / "x.dcm", _image(), (0.5, 0.5))
    data = tmp_path / "data"
    data.mkdir()
    write_dicom(data / "ok.dcm", _image(), (0.5, 0.5))
    os.mkfifo(data / "fifo.dcm")
    (data / "zero.dcm").symlink_to("/dev/zero")
    (data / "folder.dcm").mkdir()
    (data / "landmarks.csv").write_text(
        "image,landmark,x,y\n"
        "ok.dcm,femur_right,1,1\n"
        "../elsewhere/x.dcm,femur_right,1,1\n"
        f"{outside / 'x.dcm'},femur_right,1,1\n"
        "/dev/zero,femur_right,1,1\n"
        "C:\\x.dcm,femur_right,1,1\n"
        "sub/../../elsewhere/x.dcm,femur_right,1,1\n"
        "fifo.dcm,femur_right,1,1\n"
        "zero.dcm,femur_right,1,1\n"
        "folder.dcm,femur_right,1,1\n"
        ".,femur_right,1,1\n"
    )
    import apn_core.dataset.folder as folder_module

    read = []
    real = folder_module.read_radiograph
    monkeypatch.setattr(
        folder_module, "read_radiograph", lambda p, *a, **k: read.append(p) or real(p, *a, **k)
    )
    deadline(10)
    report = load_labelled_folder(data).report
    assert report.counts() == {"bad-path": 9}, [str(p) for p in report.problems]
    assert [p.name for p in read] == ["ok.dcm"]
    messages = {p.where: p.message for p in report.problems}
    assert "leaves the labelled folder" in messages["landmarks.csv:3"]
    assert "absolute image path" in messages["landmarks.csv:4"]
    assert "not a regular file" in messages["fifo.dcm"]
    assert "not a regular file" in messages["zero.dcm"]
    assert "a folder" in messages["folder.dcm"]


@posix_only
def test_reading_a_fifo_or_device_never_blocks(tmp_path, deadline):
    os.mkfifo(tmp_path / "pipe.dcm")
    deadline(5)
    for path in (tmp_path / "pipe.dcm", "/dev/zero"):
        with pytest.raises(ImageReadError, match="not a regular file"):
            read_radiograph(path)


@posix_only
def test_symlinks_inside_data_are_followed(tmp_path):
    outside = tmp_path / "store"
    outside.mkdir()
    write_dicom(outside / "x.dcm", _image(), (0.5, 0.5))
    data = tmp_path / "data"
    data.mkdir()
    (data / "linked.dcm").symlink_to(outside / "x.dcm")
    (data / "loop").symlink_to(data)  # a folder link loop must not hang discovery
    (data / "landmarks.csv").write_text("image,landmark,x,y\nlinked.dcm,femur_right,1,1\n")
    folder = load_labelled_folder(data)
    assert folder.report.ok and [i.path.name for i in folder.items] == ["linked.dcm"]


def test_dot_slash_and_plain_paths_name_one_image(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_dicom(data / "x.dcm", _image(), (0.5, 0.5))
    (data / "landmarks.csv").write_text(
        "image,landmark,x,y\n"
        "./x.dcm,femur_right,1,1\n"
        "x.dcm,femur_left,2,2\n"
        "sub/../x.dcm,knee_left,3,3\n"
        "x.dcm,femur_right,4,4\n"
    )
    folder = load_labelled_folder(data)
    assert folder.report.counts() == {"duplicate-row": 1}
    (item,) = folder.items
    assert item.labels.image == "x.dcm"
    assert item.labels.present.tolist() == [True, True, False, True, False, False]
    assert "already given on line 2" in folder.report.problems[0].message


# ---------------------------------------------------------------- sidecars and CSV cells


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            '{"markups": [{"type": "Fiducial", "controlPoints": [{"label": "knee_left", '
            '"position": [NaN, 1, 0]}]}]}',
            "NaN is not a number in JSON",
        ),
        (
            '{"markups": [{"type": "Fiducial", "controlPoints": [{"label": "knee_left", '
            '"position": [Infinity, 1, 0]}]}]}',
            "Infinity is not a number in JSON",
        ),
        (
            '{"markups": [{"type": "Fiducial", "controlPoints": [{"label": "knee_left", '
            '"position": [1e400, 1, 0]}]}]}',
            "position [inf, 1, 0] is not three finite",
        ),
        ('{"markups": {"type": "Fiducial"}}', "markups is an object, expected a list"),
        (
            '{"markups": [{"type": "Fiducial", "controlPoints": [7]}]}',
            "controlPoints[0] is a number, expected an object",
        ),
        (
            '{"markups": [{"type": "Fiducial", "controlPoints": [{"label": 3}]}]}',
            "label is a number, expected a string",
        ),
        (
            '{"markups": [{"type": "Fiducial", "controlPoints": [{"label": "knee_left", '
            '"position": "1,2,3"}]}]}',
            "position is a string, expected a list",
        ),
        (
            '{"markups": [{"type": "Fiducial", "controlPoints": [{"label": "knee_left", '
            '"position": [1, true, 0]}]}]}',
            "is not three finite numbers",
        ),
        (
            '{"markups": [{"type": "Fiducial", "controlPoints": [{"label": "knee_left"}]}]}',
            "has no 'position'",
        ),
        (
            '{"markups": [{"type": "Fiducial", "controlPoints": [{"label": "knee_left", '
            '"positionStatus": "maybe"}]}]}',
            "positionStatus 'maybe'",
        ),
        ("[]", "the document is a list, expected an object"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_markups_give_one_clear_error(tmp_path, text, fragment):
    (tmp_path / "a.mrk.json").write_text(text)
    with pytest.raises(AnnotationError) as err:
        read_markups(tmp_path / "a.mrk.json", LM, (1.0, 1.0))
    assert str(err.value).startswith(str(tmp_path / "a.mrk.json"))
    assert fragment in str(err.value)


def test_malformed_sidecar_is_a_problem_in_the_folder_report(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    write_dicom(data / "sub" / "a.dcm", _image(), (0.5, 0.5))
    (data / "sub" / "a.mrk.json").write_text(
        '{"markups": [{"type": "Fiducial", "controlPoints": '
        '[{"label": "knee_left", "position": [NaN, 0, 0]}]}]}'
    )
    report = load_labelled_folder(data).report
    assert report.counts() == {"malformed-sidecar": 1, "no-labelled-images": 1}
    assert report.problems[0].where == "sub/a.mrk.json"


def test_huge_csv_field_is_a_problem_not_a_traceback(tmp_path):
    big = "x" * (200 * 1024)
    (tmp_path / "landmarks.csv").write_text(
        f"image,landmark,x,y\na.png,femur_right,1,2\n{big}.png,femur_left,1,2\nb.png,knee_left,3,4\n"
    )
    from apn_core.annotations import read_landmarks_csv
    from apn_core.problems import Report

    report = Report()
    labels = read_landmarks_csv(tmp_path / "landmarks.csv", LM, report)
    assert [(p.kind, p.where) for p in report.problems] == [("malformed-row", "landmarks.csv:3")]
    assert "field larger than field limit" in report.problems[0].message
    assert sorted(labels) == ["a.png", "b.png"]
    (tmp_path / "p.csv").write_text(f"index,axis-0,axis-1,label\n0,1,2,{big}\n")
    with pytest.raises(AnnotationError, match=r"p\.csv: line 2: cannot parse CSV"):
        read_napari_points(tmp_path / "p.csv", LM)


@posix_only
def test_sidecar_that_is_a_fifo_is_refused_without_blocking(tmp_path, deadline):
    os.mkfifo(tmp_path / "a.mrk.json")
    deadline(5)
    with pytest.raises(AnnotationError, match="not a regular file"):
        read_markups(tmp_path / "a.mrk.json", LM, (1.0, 1.0))


def test_both_sidecars_for_one_image_is_a_conflict(tmp_path):
    from apn_core.annotations import write_markups, write_napari_points

    data = tmp_path / "data"
    data.mkdir()
    write_dicom(data / "a.dcm", _image(), (0.5, 0.5))
    lab = ImageLabels("a.dcm", np.full((6, 2), 3.0), np.ones(6, bool))
    write_markups(data / "a.mrk.json", lab, LM, (0.5, 0.5))
    write_napari_points(data / "a.csv", lab, LM)
    report = load_labelled_folder(data).report
    assert report.counts() == {"sidecar-conflict": 1, "no-labelled-images": 1}
    assert "both a.mrk.json and a.csv label this image" in report.problems[0].message


def test_three_d_napari_points_only_on_one_plane(tmp_path):
    (tmp_path / "flat.csv").write_text(
        "index,axis-0,axis-1,axis-2,label\n0,4,10,20,femur_right\n1,4,11,21,knee_left\n"
    )
    lab = read_napari_points(tmp_path / "flat.csv", LM)
    assert lab.xy[LM.index("femur_right")].tolist() == [20.0, 10.0]  # (x = axis-2, y = axis-1)
    (tmp_path / "stack.csv").write_text(
        "index,axis-0,axis-1,axis-2,label\n0,0,10,20,femur_right\n1,3,11,21,knee_left\n"
    )
    with pytest.raises(AnnotationError, match=r"stack\.csv: the points lie on 2 different planes"):
        read_napari_points(tmp_path / "stack.csv", LM)
    (tmp_path / "gap.csv").write_text("index,axis-0,axis-2,label\n0,1,2,femur_right\n")
    with pytest.raises(AnnotationError, match="need axis-0, axis-1"):
        read_napari_points(tmp_path / "gap.csv", LM)


def test_napari_points_bad_label_and_number_name_file_and_line(tmp_path):
    (tmp_path / "p.csv").write_text("index,axis-0,axis-1,label\n0,1,2,femur_right\n1,1,2,hip\n")
    with pytest.raises(AnnotationError, match=r"p\.csv: line 3: label 'hip' is not one of"):
        read_napari_points(tmp_path / "p.csv", LM)
    (tmp_path / "q.csv").write_text("index,axis-0,axis-1,label\n0,1_000,2,femur_right\n")
    with pytest.raises(AnnotationError, match=r"q\.csv: line 2: axis-0='1_000'"):
        read_napari_points(tmp_path / "q.csv", LM)


# ---------------------------------------------------------------- TIFF pages


def test_tiff_with_thumbnail_uses_the_full_resolution_page(tmp_path):
    full = _image(64, 48)
    with tifffile.TiffWriter(tmp_path / "thumb_first.tif") as tif:
        tif.write(full[::4, ::4], subfiletype=1)
        tif.write(full)
    np.testing.assert_array_equal(read_radiograph(tmp_path / "thumb_first.tif").pixels, full)


def test_tiff_pages_of_different_sizes_are_refused(tmp_path):
    with tifffile.TiffWriter(tmp_path / "two.tif") as tif:
        tif.write(_image(64, 48))
        tif.write(_image(20, 10))
    with pytest.raises(ImageReadError, match=r"2 pages of different sizes \(64 × 48, 20 × 10\)"):
        read_radiograph(tmp_path / "two.tif")


# ---------------------------------------------------------------- spacing tags and apn info


@pytest.mark.parametrize("tag", [b"0  \\0  ", b"abc\\0.5", b"1_0\\0.5", b"nan\\inf", b"-.5\\0.5"])
def test_bad_spacing_tag_leaves_the_dicom_usable_with_a_given_spacing(tmp_path, tag):
    write_dicom(tmp_path / "a.dcm", _image(), (0.5, 0.5), spacing_tag="PixelSpacing")
    _patch_last(tmp_path / "a.dcm", b"0.5\\0.5", tag)
    r = read_radiograph(tmp_path / "a.dcm")
    assert r.spacing is None
    assert r.spacing_source.startswith("DICOM PixelSpacing is invalid")
    given = read_radiograph(tmp_path / "a.dcm", 0.3, "given (--spacing)")
    assert given.spacing == (0.3, 0.3) and given.spacing_source == "given (--spacing)"


def test_apn_info_escapes_and_bounds_strings_from_the_file(tmp_path, capsys):
    name = "evil\x1b[2Jname\n.dcm"
    write_dicom(tmp_path / name, _image(), (0.5, 0.5))
    ds = pydicom.dcmread(tmp_path / name)
    ds.Modality = "DX\x1b]0;pwned\x07" + "A" * 5000
    ds.save_as(tmp_path / name)
    summary = read_radiograph(tmp_path / name).summary()
    for value in summary.values():
        if isinstance(value, str):
            assert value.isprintable() and len(value) <= 1000, value
    assert (
        summary["modality"].startswith("DX\\x1b]0;pwned\\x07") and len(summary["modality"]) <= 400
    )
    assert main(["info", str(tmp_path / name)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b[2Jname\\n.dcm" in out


def test_error_messages_escape_control_characters(tmp_path):
    path = tmp_path / "bad\x1b[31m.dcm"
    path.write_text("not a dicom")
    with pytest.raises(ImageReadError) as err:
        read_radiograph(path)
    assert "\x1b" not in str(err.value) and "bad\\x1b[31m.dcm" in str(err.value)


def test_json_sidecar_strings_in_messages_are_escaped(tmp_path):
    doc = {"markups": [{"type": "Fiducial", "controlPoints": [{"label": "\x1b[2Jx" * 50}]}]}
    (tmp_path / "a.mrk.json").write_text(json.dumps(doc))
    with pytest.raises(AnnotationError) as err:
        read_markups(tmp_path / "a.mrk.json", LM, (1.0, 1.0))
    assert "\x1b" not in str(err.value) and len(str(err.value)) < 400 + len(str(tmp_path))
