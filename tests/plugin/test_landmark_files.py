"""Landmark files in napari: reader and writer round trips, alignment in mm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from napari_builtins.io import napari_write_points  # napari's own Points CSV writer

from apn_core.synth import SynthConfig, write_synthetic_folder
from napari_apn._reader import get_reader
from napari_apn._writer import write_points

NAMES = ["femur_right", "femur_left", "knee_right", "knee_left", "ankle_right", "ankle_left"]


@pytest.fixture
def sample_points(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    return viewer, viewer.layers["ground truth"]


@pytest.mark.parametrize("name", ["gt.mrk.json", "gt.csv"])
def test_writer_then_reader_round_trips_in_world_mm(sample_points, tmp_path, name):
    viewer, layer = sample_points
    data, meta, _ = layer.as_layer_data_tuple()
    (path,) = write_points(str(tmp_path / name), data, meta)
    reader = get_reader(path)
    assert reader is not None
    ((back_data, back_meta, kind),) = reader(path)
    assert kind == "points"
    assert list(back_meta["features"]["label"]) == list(layer.features["label"])
    world = data * np.asarray(meta["scale"])
    back_world = np.asarray(back_data) * np.asarray(back_meta["scale"])
    np.testing.assert_allclose(back_world, world, atol=1e-3)
    added = viewer.add_points(
        back_data, **{k: v for k, v in back_meta.items() if k != "name"}, name="reloaded"
    )
    np.testing.assert_allclose(
        added.data_to_world(added.data[0]), layer.data_to_world(layer.data[0]), atol=1e-3
    )


def test_markups_written_by_napari_validate(sample_points, tmp_path, shared_dir):
    jsonschema = pytest.importorskip("jsonschema")
    _, layer = sample_points
    data, meta, _ = layer.as_layer_data_tuple()
    (path,) = write_points(str(tmp_path / "a.mrk.json"), data, meta)
    schema = json.loads(
        next((shared_dir / "formats").glob("slicer-markups-schema*.json")).read_text()
    )
    jsonschema.validate(json.loads(Path(path).read_text()), schema)


def test_landmarks_csv_opens_aligned_with_its_radiograph(make_napari_viewer, tmp_path):
    data = write_synthetic_folder(
        tmp_path / "d", 2, seed=3, config=SynthConfig(spacing_mm=1.5, restricted_fraction=0)
    )
    viewer = make_napari_viewer()
    layers = viewer.open(str(data / "landmarks.csv"), plugin="napari-apn")
    assert len(layers) == 2
    image_name = layers[0].metadata["apn_image"]
    image = viewer.open(str(data / image_name), plugin="napari-apn")[0]
    np.testing.assert_allclose(layers[0].scale, image.scale)  # both in mm


def test_reader_declines_unrelated_csv_and_json(tmp_path):
    """Not landmark files: napari may offer another reader."""
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "x.mrk.json").write_text("{broken")
    assert get_reader(str(tmp_path / "table.csv")) is None
    assert get_reader(str(tmp_path / "x.mrk.json")) is None


# ----- the writer's units and labels rules (issue 9, defect 3) ---------------------------
def _points(viewer, truth, **kwargs):
    meta = {"apn_image": "leg.dcm", **kwargs.pop("metadata", {})}
    return viewer.add_points(truth.data, features=truth.features, metadata=meta, **kwargs)


def test_a_pixel_layer_is_never_written_as_millimetres(sample_points, tmp_path):
    from apn_core.errors import FileProblem

    viewer, truth = sample_points
    data, meta, _ = _points(viewer, truth, name="pixels").as_layer_data_tuple()
    with pytest.raises(FileProblem, match="pixel units"):
        write_points(str(tmp_path / "a.mrk.json"), data, meta)
    assert not (tmp_path / "a.mrk.json").exists()
    (path,) = write_points(str(tmp_path / "a.csv"), data, meta)
    header, first = Path(path).read_text().splitlines()[:2]
    assert header == "image,landmark,x,y"  # pixels, no spacing
    assert first.startswith("leg.dcm,femur_right,")


@pytest.mark.parametrize(
    ("scale", "units", "written"), [((1.0, 1.0), "mm", "1"), ((143.0, 143.0), "um", "0.143")]
)
def test_a_genuine_spacing_is_written_whatever_its_value_or_unit(
    sample_points, tmp_path, scale, units, written
):
    viewer, truth = sample_points
    layer = _points(viewer, truth, name="mm", scale=scale, units=(units, units))
    data, meta, _ = layer.as_layer_data_tuple()
    (path,) = write_points(str(tmp_path / "a.csv"), data, meta)
    header, first = Path(path).read_text().splitlines()[:2]
    assert header == "image,landmark,x,y,spacing_mm"
    assert first.split(",")[-1] == written


def test_duplicate_labels_are_refused_naming_the_landmark(sample_points, tmp_path):
    from apn_core.errors import FileProblem

    viewer, truth = sample_points
    features = truth.features.copy()
    features.loc[0, "label"] = "ankle_left"
    layer = viewer.add_points(
        truth.data, features=features, scale=truth.scale, units=truth.units, metadata=truth.metadata
    )
    data, meta, _ = layer.as_layer_data_tuple()
    for name in ("a.csv", "a.mrk.json"):
        with pytest.raises(FileProblem, match="'ankle_left' has 2 points"):
            write_points(str(tmp_path / name), data, meta)


# ----- landmarks without a spacing open in pixel units (issue 12, item 3) ----------------
def test_landmarks_csv_without_spacing_or_image_opens_in_pixels_with_a_notification(
    make_napari_viewer, tmp_path, notifications
):
    from napari_apn._layers import layer_spacing_mm

    rows = "".join(f"far.png,{n},{10 * i},{20 * i}\n" for i, n in enumerate(NAMES))
    (tmp_path / "landmarks.csv").write_text("image,landmark,x,y\n" + rows)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path / "landmarks.csv"), plugin="napari-apn")
    assert tuple(str(u) for u in layer.units) == ("pixel", "pixel")
    assert layer_spacing_mm(layer) is None
    assert any("no pixel spacing" in m and "pixel units" in m for m in notifications())


def test_a_napari_points_csv_without_its_image_opens_in_pixels_and_measures_nothing(
    sample_points, tmp_path, notifications
):
    from napari_apn._qt.alignment_widget import AlignmentWidget

    viewer, truth = sample_points
    napari_write_points(str(tmp_path / "gt.csv"), *truth.as_layer_data_tuple()[:2])
    (layer,) = viewer.open(str(tmp_path / "gt.csv"), plugin="napari-apn")
    assert tuple(str(u) for u in layer.units) == ("pixel", "pixel")
    np.testing.assert_allclose(layer.data, truth.data, atol=1e-3)
    assert any("pixel units" in m for m in notifications())
    widget = AlignmentWidget(viewer)
    widget.points.value = layer.name
    assert widget.update() is None and "no pixel spacing in mm" in widget.status.value


def test_a_napari_points_csv_beside_its_image_opens_in_its_spacing(make_napari_viewer, tmp_path):
    data = write_synthetic_folder(
        tmp_path / "d", 1, seed=3, config=SynthConfig(spacing_mm=1.5, formats=("dicom",))
    )
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(next(data.glob("*.dcm"))), plugin="napari-apn")
    truth = viewer.add_points([[100.0, 50.0]], features={"label": ["knee_left"]})
    stem = image.name
    napari_write_points(str(data / f"{stem}.csv"), *truth.as_layer_data_tuple()[:2])
    (layer,) = viewer.open(str(data / f"{stem}.csv"), plugin="napari-apn")
    from napari_apn._layers import layer_spacing_mm

    np.testing.assert_allclose(layer.scale, image.scale)
    assert layer_spacing_mm(layer) == pytest.approx((1.5, 1.5))
    assert layer.metadata["apn_image"] == f"{stem}.dcm"
