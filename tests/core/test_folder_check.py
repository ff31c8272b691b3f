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


def test_spacing_mismatch_message_names_both_values_and_sources(broken):
    (broken / "landmarks.csv").write_text(
        "image,landmark,x,y,spacing_mm\ngood.dcm,femur_right,5,10,0.6\n"
    )
    folder = load_labelled_folder(broken)
    (mismatch,) = [p for p in folder.report.problems if p.kind == "spacing-mismatch"]
    assert mismatch.message == (
        "spacing_mm 0.6×0.6 mm/px in landmarks.csv differs from the file's 0.5×0.5 mm/px "
        "(DICOM PixelSpacing) by 20.0%; using landmarks.csv"
    )
    good = next(i for i in folder.items if i.path.name == "good.dcm")
    assert good.spacing == (0.6, 0.6)


def test_invalid_spacing_tag_is_named_in_the_missing_spacing_problem(tmp_path):
    import pydicom

    d = tmp_path / "data"
    write_dicom(d / "a.dcm", (np.arange(200, dtype=np.uint16) % 7).reshape(20, 10), (0.5, 0.5))
    ds = pydicom.dcmread(d / "a.dcm")
    del ds.ImagerPixelSpacing
    ds.PixelSpacing = [0, 0]
    ds.save_as(d / "a.dcm")
    (d / "landmarks.csv").write_text("image,landmark,x,y\na.dcm,femur_right,1,1\n")
    (problem,) = load_labelled_folder(d).report.errors[:1]
    assert problem.kind == "missing-spacing"
    assert problem.message == (
        "no pixel spacing: DICOM PixelSpacing is invalid ('0.0\\0.0'); "
        "add spacing_mm to landmarks.csv or pass --spacing"
    )
    folder = load_labelled_folder(d, spacing=0.4)
    assert folder.report.ok and folder.items[0].spacing == (0.4, 0.4)


def test_discovery_skips_apn_outputs_and_run_folders(synth_folder, tmp_path):
    from apn_core.dataset import OUTPUT_MARKER, find_images

    data = tmp_path / "data"
    shutil.copytree(synth_folder, data)
    images = sorted(find_images(data))
    evaluation = data / "evaluation"  # what 'apn evaluate' wrote inside DATA
    evaluation.mkdir()
    (evaluation / OUTPUT_MARKER).write_text("")
    iio.imwrite(evaluation / "error_cdf.png", np.zeros((8, 8), np.uint8))
    (evaluation / "overlays").mkdir()
    iio.imwrite(evaluation / "overlays" / "x.png", np.zeros((8, 8), np.uint8))
    run = data / "runs" / "r1"  # a run folder with a picture in it
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "best.safetensors").write_bytes(b"")
    iio.imwrite(run / "curves.png", np.zeros((8, 8), np.uint8))
    assert sorted(find_images(data)) == images
    report = load_labelled_folder(data).report
    assert report.ok and not report.warnings, [str(p) for p in report.problems]
    # Pointed at explicitly, an output folder is searched: the user asked for it.
    assert [p.name for p in find_images(evaluation)] == ["error_cdf.png", "x.png"]


def test_every_problem_kind_is_known_and_described():
    from apn_core.problems import ERROR_KINDS, KIND_DESCRIPTIONS, WARNING_KINDS, Report

    assert set(KIND_DESCRIPTIONS) == set(ERROR_KINDS) | set(WARNING_KINDS)
    assert not set(ERROR_KINDS) & set(WARNING_KINDS)
    with pytest.raises(ValueError, match="unknown problem kind"):
        Report().add("bad-thing", "x", "y")  # would otherwise silently count as a warning
