"""Landmark files in napari: reader and writer round trips, alignment in mm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from apn_core.synth import SynthConfig, write_synthetic_folder
from napari_apn._reader import get_reader
from napari_apn._writer import write_points


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
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "x.mrk.json").write_text("{broken")
    assert get_reader(str(tmp_path / "table.csv")) is None
    assert get_reader(str(tmp_path / "x.mrk.json")) is None
