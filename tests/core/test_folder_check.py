"""The labelled-folder validator on a deliberately broken folder."""

from __future__ import annotations

import shutil

import imageio.v3 as iio
import numpy as np
import pytest

from apn_core.annotations import ImageLabels, write_markups, write_napari_points
from apn_core.dataset import load_labelled_folder
from apn_core.errors import FileProblem
from apn_core.io import write_dicom, write_tiff
from apn_core.landmarks import DEFAULT_LANDMARKS as LM


@pytest.fixture
def broken(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    img = (np.arange(100 * 40, dtype=np.uint16) % 251).reshape(100, 40)  # not blank
    write_dicom(d / "good.dcm", img, (0.5, 0.5))
    write_tiff(d / "nospacing.tif", img, None)
    iio.imwrite(d / "png_with_csv_spacing.png", img.astype(np.uint8))
    iio.imwrite(d / "png_no_spacing.png", img.astype(np.uint8))
    (d / "truncated.dcm").write_bytes((d / "good.dcm").read_bytes()[:-500])
    write_dicom(d / "unlabelled.dcm", img, (0.5, 0.5))
    write_dicom(d / "side" / "markups.dcm", img, (0.5, 0.5))
    write_dicom(d / "side" / "points.dcm", img, (0.5, 0.5))
    full = ImageLabels(
        "",
        np.array([[5, 10], [30, 10], [6, 50], [30, 50], [7, 90], [31, 90]], float),
        np.ones(6, bool),
    )
    write_markups(d / "side" / "markups.mrk.json", full, LM, (0.5, 0.5))
    write_napari_points(d / "side" / "points.csv", full, LM)
    (d / ".hidden").mkdir()
    write_dicom(d / ".hidden" / "ignored.dcm", img, (0.5, 0.5))
    (d / "landmarks.csv").write_text(
        "image,landmark,x,y,spacing_mm\n"
        "good.dcm,femur_right,5,10,\n"
        "good.dcm,femur_left,,,\n"  # absent: fine
        "good.dcm,knee_right,500,10,\n"  # out of image
        "good.dcm,knee_right,5,10,\n"  # duplicate
        "good.dcm,elbow,5,10,\n"  # unknown name
        "missing.dcm,femur_right,5,10,\n"  # file not there
        "truncated.dcm,femur_right,5,10,\n"  # unreadable
        "nospacing.tif,femur_right,5,10,\n"  # no spacing anywhere
        "png_with_csv_spacing.png,femur_right,5,10,0.2\n"
        "png_no_spacing.png,femur_right,5,nan,\n"  # NaN
    )
    return d


def test_every_problem_is_reported_at_once(broken):
    folder = load_labelled_folder(broken)
    report = folder.report
    counts = report.counts()
    assert counts == {
        "missing-file": 1,
        "unreadable-image": 1,
        "unknown-landmark": 1,
        "duplicate-row": 1,
        "bad-coordinate": 1,
        "out-of-image": 1,
        "missing-spacing": 2,  # nospacing.tif, png_no_spacing.png
        "unlabelled-image": 1,
    }, [str(p) for p in report.problems]
    assert not report.ok
    usable = sorted(item.path.name for item in folder.items)
    assert usable == ["markups.dcm", "png_with_csv_spacing.png", "points.dcm"]
    png = next(i for i in folder.items if i.path.suffix == ".png")
    assert png.spacing == (0.2, 0.2) and png.spacing_source == "landmarks.csv spacing_mm"
    sidecar = next(i for i in folder.items if i.path.name == "markups.dcm")
    np.testing.assert_allclose(sidecar.labels.xy[4], [7, 90])
    assert report.n_images == 8  # the hidden folder is skipped
    with pytest.raises(FileProblem, match="apn check"):
        folder.raise_for_errors()


def test_given_spacing_fills_in_and_sidecar_is_ignored_when_csv_labels_image(broken):
    write_napari_points(broken / "good.csv", ImageLabels.empty("good.dcm", 6), LM)
    folder = load_labelled_folder(broken, spacing=0.3)
    counts = folder.report.counts()
    assert "missing-spacing" not in counts
    assert counts["sidecar-ignored"] == 1
    tif = next(i for i in folder.items if i.path.name == "nospacing.tif")
    assert tif.spacing == (0.3, 0.3) and "--spacing" in tif.spacing_source
    dcm = next(i for i in folder.items if i.path.name == "markups.dcm")
    assert dcm.spacing == (0.5, 0.5)  # the file's own spacing beats --spacing


def test_clean_synthetic_folder_passes(synth_folder, tmp_path):
    folder = load_labelled_folder(synth_folder)
    assert folder.report.ok and not folder.report.warnings, [str(p) for p in folder.report.problems]
    assert len(folder) == 6
    copy = tmp_path / "copy"
    shutil.copytree(synth_folder, copy)
    (copy / "landmarks.csv").unlink()
    report = load_labelled_folder(copy).report
    assert report.counts() == {"no-labelled-images": 1, "unlabelled-image": 6}


def test_not_a_folder(tmp_path):
    with pytest.raises(FileProblem, match="folder not found"):
        load_labelled_folder(tmp_path / "nothing")
