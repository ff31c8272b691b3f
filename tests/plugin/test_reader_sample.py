"""Reader and sample data in a real napari viewer (Xvfb in CI)."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from apn_core.io import write_dicom
from napari_apn._reader import get_reader


def test_reader_opens_dicom_with_spacing_as_scale(make_napari_viewer, tmp_path):
    data = np.arange(200, dtype=np.uint16).reshape(20, 10) * 10
    write_dicom(tmp_path / "leg.dcm", data, (0.143, 0.15), "MONOCHROME1", bits_stored=12)
    viewer = make_napari_viewer()
    layers = viewer.open(str(tmp_path / "leg.dcm"), plugin="napari-apn")
    layer = layers[0]
    np.testing.assert_allclose(layer.scale, [0.143, 0.15])
    np.testing.assert_array_equal(layer.data, (4095 - data).astype(np.float32))  # bone bright
    assert layer.metadata["apn"]["spacing_source"] == "DICOM PixelSpacing"


def test_reader_opens_pydicom_ct_file_and_declines_other_files(tmp_path):
    reader = get_reader(get_testdata_file("CT_small.dcm"))
    ((data, kwargs, kind),) = reader(get_testdata_file("CT_small.dcm"))
    assert kind == "image" and data.shape == (128, 128)
    assert kwargs["scale"] == pytest.approx((0.661468, 0.661468))
    (tmp_path / "a.txt").write_text("x")
    assert get_reader(str(tmp_path / "a.txt")) is None
    assert get_reader([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]) is None


def _multiframe(tmp_path):
    import pydicom

    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    frames = np.stack([ds.pixel_array] * 2)
    ds.NumberOfFrames = 2
    ds.PixelData = frames.tobytes()
    ds.save_as(tmp_path / "two.dcm")
    return str(tmp_path / "two.dcm")


@pytest.mark.parametrize(
    ("file", "why"),
    [
        (lambda _: get_testdata_file("MR_truncated.dcm"), "truncated file"),
        (lambda _: get_testdata_file("rtplan.dcm"), "without image pixel data"),
        (lambda _: get_testdata_file("SC_rgb_jpeg.dcm"), "colour DICOM"),
        (_multiframe, "multi-frame DICOM"),
    ],
)
def test_an_unusable_dicom_is_accepted_and_says_why(make_napari_viewer, tmp_path, file, why):
    """napari would otherwise try its builtin reader (which fails with an unrelated
    message) or say nothing: the reader takes the file and raises the clear reason."""
    from apn_core.errors import ImageReadError

    path = file(tmp_path)
    reader = get_reader(path)
    assert reader is not None
    with pytest.raises(ImageReadError, match=why):
        reader(path)
    with pytest.raises(Exception, match=why):  # napari wraps it, message kept
        make_napari_viewer().open(path, plugin="napari-apn")


def test_use_as_default_reader_sets_napari_preferences(tmp_path):
    from napari.settings import NapariSettings

    from napari_apn import use_as_default_reader

    settings = NapariSettings(config_path=None)  # never the user's own settings file
    settings.plugins.extension2reader = {"*.png": "builtins"}
    mapping = use_as_default_reader(settings=settings)
    assert settings.plugins.extension2reader == mapping
    assert mapping["*.dcm"] == mapping["*.tif"] == mapping["*.tiff"] == "napari-apn"
    assert mapping["*.png"] == "builtins"


def test_images_opened_from_files_know_their_path(make_napari_viewer, tmp_path):
    write_dicom(tmp_path / "leg.dcm", np.ones((20, 10), np.uint16), (0.2, 0.2), "MONOCHROME2")
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path / "leg.dcm"), plugin="napari-apn")
    assert layer.metadata["apn_image"] == "leg.dcm"
    assert layer.metadata["apn_image_path"] == str((tmp_path / "leg.dcm").resolve())
    assert layer.metadata["apn_spacing_mm"] == [0.2, 0.2]


def test_sample_data_has_image_and_six_ground_truth_points(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    image, points = viewer.layers["synthetic long leg"], viewer.layers["ground truth"]
    assert image.scale.tolist() == [0.5, 0.5]
    assert list(points.features["label"]) == [
        "femur_right",
        "femur_left",
        "knee_right",
        "knee_left",
        "ankle_right",
        "ankle_left",
    ]
    rows, _cols = image.data.shape
    # (row, col) data in pixels, inside the image, femoral heads above knees above ankles
    assert (points.data[:, 0] > 0).all() and (points.data[:, 0] < rows).all()
    assert points.data[0, 0] < points.data[2, 0] < points.data[4, 0]
    assert points.data[0, 1] < points.data[1, 1]  # patient's right on the image's left
    # world coordinates are millimetres
    np.testing.assert_allclose(points.data_to_world(points.data[0]), points.data[0] * 0.5)
