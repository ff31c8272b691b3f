"""One spacing parser for --spacing, the CSV column and file tags; the precedence of
read_radiograph (a given spacing is a fallback unless override=True)."""

from __future__ import annotations

import argparse
import ast
import logging
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

import apn_core.io
from apn_core.cli.common import spacing_arg
from apn_core.errors import ImageReadError
from apn_core.io import read_radiograph, write_dicom
from apn_core.spacing import as_spacing, format_spacing, parse_decimal, parse_spacing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.143", (0.143, 0.143)),
        (" 0.15 0.14 ", (0.15, 0.14)),
        ("0.15,0.14", (0.15, 0.14)),
        ("0.15 , 0.14", (0.15, 0.14)),
        ("0.15x0.14", (0.15, 0.14)),
        ("0.15×0.14", (0.15, 0.14)),
        ("0.15;0.14", (0.15, 0.14)),
        ("0.15\\0.14", (0.15, 0.14)),  # DICOM multi-value
        ("1.5e-1", (0.15, 0.15)),
        (".5", (0.5, 0.5)),
        ("", None),
    ],
)
def test_spacing_syntax_accepted(text, expected):
    assert parse_spacing(text) == expected
    if expected is not None:
        assert spacing_arg(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1_0",
        "nan",
        "inf",
        "0",
        "-0.5",
        "0x10",
        "١",
        "0.5 0.5 0.5",
        "0.5x",
        "1e999",
        "abc",
        "0.5,,0.5",
    ],
)
def test_spacing_syntax_rejected_everywhere(text, tmp_path):
    with pytest.raises(ValueError, match="spacing"):
        parse_spacing(text)
    with pytest.raises(argparse.ArgumentTypeError):
        spacing_arg(text)
    from apn_core.annotations import read_landmarks_csv
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from apn_core.problems import Report

    (tmp_path / "landmarks.csv").write_text(
        f'image,landmark,x,y,spacing_mm\na.png,femur_right,1,2,"{text}"\n'
    )
    report = Report()
    read_landmarks_csv(tmp_path / "landmarks.csv", DEFAULT_LANDMARKS, report)
    assert [p.kind for p in report.problems] == ["bad-value"]


def test_numbers_in_code_and_decimal_syntax():
    assert as_spacing(0.5) == (0.5, 0.5)
    assert as_spacing((0.5, 0.25)) == (0.5, 0.25)
    assert as_spacing(np.array([0.5, 0.25])) == (0.5, 0.25)
    assert as_spacing("0.5 0.25") == (0.5, 0.25)
    for bad in (True, (0.5, None), (0.5, "x"), [], (0.0, 1.0), float("nan"), "", None):
        with pytest.raises(ValueError):
            as_spacing(bad)
    assert parse_decimal(" -1.5e3 ") == -1500.0
    for bad in ("1_000", "nan", "+inf", "0x1", "1.2.3", "", "1 2"):
        with pytest.raises(ValueError):
            parse_decimal(bad)
    assert format_spacing((0.15, 0.14)) == "0.15 0.14" and format_spacing((1.0, 1.0)) == "1"
    assert parse_spacing(format_spacing((0.1428571428571, 0.2))) == pytest.approx(
        (0.1428571428571, 0.2), rel=1e-12
    )
    assert format_spacing((143e-3 * 1.0000000000000002, 0.143)) == "0.143"


def test_given_spacing_is_a_fallback_not_an_override(tmp_path, caplog):
    write_dicom(tmp_path / "a.dcm", np.arange(20, dtype=np.uint16).reshape(4, 5), (0.5, 0.5))
    with caplog.at_level(logging.WARNING, logger="apn_core.io.radiograph"):
        r = read_radiograph(tmp_path / "a.dcm", 0.7, "given (--spacing)")
    assert r.spacing == (0.5, 0.5) and r.spacing_source == "DICOM PixelSpacing"
    note = r.meta["spacing_note"]
    assert "0.7×0.7 mm/px (given (--spacing)) differs from the file's 0.5×0.5 mm/px" in note
    assert "40.0%" in note and "using the file's" in note
    assert "a.dcm" in caplog.text and "differs from the file's" in caplog.text
    assert r.summary()["spacing_note"] == note

    close = read_radiograph(tmp_path / "a.dcm", 0.502, "given")  # within 1 %
    assert close.spacing == (0.5, 0.5) and "spacing_note" not in close.meta

    forced = read_radiograph(tmp_path / "a.dcm", 0.7, "--override-spacing", override=True)
    assert forced.spacing == (0.7, 0.7) and forced.spacing_source == "--override-spacing"
    assert "replaces the file's 0.5×0.5 mm/px (DICOM PixelSpacing)" in forced.meta["spacing_note"]

    iio.imwrite(tmp_path / "a.png", np.arange(20, dtype=np.uint8).reshape(4, 5))
    png = read_radiograph(tmp_path / "a.png", "0.3,0.2", "given (--spacing)")
    assert png.spacing == (0.3, 0.2) and png.spacing_source == "given (--spacing)"
    with pytest.raises(ImageReadError, match=r"a\.png: invalid pixel spacing \(x\)"):
        read_radiograph(tmp_path / "a.png", -1, "x")


def test_invalid_tiff_resolution_is_no_spacing_not_an_error(tmp_path):
    data = np.arange(12, dtype=np.uint16).reshape(3, 4)
    tifffile.imwrite(
        tmp_path / "z.tif", data, resolution=((0, 1), (0, 1)), resolutionunit="CENTIMETER"
    )
    r = read_radiograph(tmp_path / "z.tif")
    assert r.spacing is None and "is invalid" in r.spacing_source
    assert read_radiograph(tmp_path / "z.tif", 0.2).spacing == (0.2, 0.2)


def test_format_readers_import_the_record_module_not_the_dispatcher():
    package = Path(apn_core.io.__file__).parent
    for reader in ("dicom.py", "tiff.py", "raster.py", "record.py", "limits.py", "contrast.py"):
        tree = ast.parse((package / reader).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "apn_core.io.radiograph" not in imported and "apn_core.io" not in imported, reader
    from apn_core.io import IMAGE_SUFFIXES, Radiograph, is_image_file, write_dicom, write_tiff

    assert Radiograph.__module__ == "apn_core.io.record"
    assert ".dcm" in IMAGE_SUFFIXES and is_image_file("x.TIF") and write_dicom and write_tiff
