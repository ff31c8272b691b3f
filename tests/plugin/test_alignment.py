"""Leg alignment widget: live table on drag, axes layer, export, save back to a folder."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from apn_core.measurements import alignment


def hka_right(widget) -> float:
    return float(widget.table.to_dict("dict")["right"]["hka_deg"])


@pytest.fixture
def widget_and_layer(make_napari_viewer):
    from napari_apn._qt.alignment_widget import AlignmentWidget

    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    widget = AlignmentWidget(viewer)
    widget.points.value = "ground truth"
    return viewer, widget, viewer.layers["ground truth"]


def test_table_matches_core_measurements_and_updates_when_a_point_moves(widget_and_layer):
    viewer, widget, layer = widget_and_layer
    xy = layer.data[:, ::-1]
    expected = alignment(xy, tuple(layer.scale))
    table = widget.table.to_dict("dict")
    assert float(table["right"]["hka_deg"]) == pytest.approx(expected["right"]["hka_deg"], abs=0.05)
    data = layer.data.copy()
    data[2, 1] -= 40  # drag the right knee 20 mm laterally (to the image left): more varus
    layer.data = data
    after = hka_right(widget)
    assert after > float(table["right"]["hka_deg"]) + 2
    assert f"{layer.name} axes" in viewer.layers
    assert len(viewer.layers[f"{layer.name} axes"].data) == 4  # two axes per leg


def test_export_and_save_back_keep_other_rows(widget_and_layer, tmp_path):
    _, widget, layer = widget_and_layer
    widget.export.value = tmp_path / "m.csv"
    widget.export_csv()
    with open(tmp_path / "m.csv") as fh:
        assert [r["side"] for r in csv.DictReader(fh)] == ["right", "left"]
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "landmarks.csv").write_text("image,landmark,x,y\nother.png,femur_right,1,2\n")
    widget.folder.value = folder
    widget.save_points()
    text = (folder / "landmarks.csv").read_text()
    assert "other.png,femur_right,1.000,2.000" in text
    assert text.count("synthetic long leg") == 6
    widget.save_points()  # saving again updates, never duplicates
    assert (folder / "landmarks.csv").read_text().count("synthetic long leg") == 6
    np.testing.assert_allclose(layer.scale, [0.5, 0.5])


def test_a_layer_without_spacing_gets_no_mm_table_but_a_reason(make_napari_viewer):
    from napari_apn._qt.alignment_widget import AlignmentWidget

    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    truth = viewer.layers["ground truth"]
    viewer.add_points(truth.data, features=truth.features, name="pixels only")
    widget = AlignmentWidget(viewer)
    widget.points.value = "pixels only"
    assert widget.update() is None
    assert "no pixel spacing in mm" in widget.status.value
    assert set(widget.table.to_dict("dict")["right"].values()) == {"–"}
    assert "pixels only axes" in viewer.layers  # the axes need no spacing


def test_the_table_follows_a_drag_before_the_mouse_is_released(widget_and_layer, mouse, qtbot):
    """napari blocks the layer's data events while a point is dragged; the table must
    still follow the drag (README: "updated live while points are dragged")."""
    _, widget, layer = widget_and_layer
    before = hka_right(widget)
    knee = layer.data[2].copy()
    layer.mode = "select"
    drag = mouse(layer)
    drag.press(layer.data_to_world(knee))
    target = layer.data_to_world(knee - [0, 40])  # 20 mm towards the image's left
    drag.move(target)
    qtbot.waitUntil(lambda: hka_right(widget) > before + 2, timeout=2000)
    drag.release(target)
    np.testing.assert_allclose(layer.data[2], knee - [0, 40])
    assert hka_right(widget) > before + 2


def test_missing_values_show_a_dash_and_the_absent_landmark(widget_and_layer):
    _, widget, layer = widget_and_layer
    layer.remove([5])  # ankle_left
    table = widget.table.to_dict("dict")
    assert table["left"]["hka_deg"] == "–" and table["left"]["femur_mm"] != "–"
    assert float(table["right"]["hka_deg"]) == pytest.approx(hka_right(widget))
    assert "ankle_left absent" in widget.status.value
    assert "nan" not in widget.lld.value and "ankle_left absent" in widget.lld.value


def test_a_landmark_with_two_points_is_not_measured(widget_and_layer, qtbot):
    _, widget, layer = widget_and_layer
    features = layer.features.copy()
    features.loc[0, "label"] = "knee_right"  # relabelled by hand: two knee_right points
    layer.features = features
    qtbot.waitUntil(lambda: "more than one point" in widget.status.value, timeout=2000)
    assert "knee_right: more than one point" in widget.status.value
    assert set(widget.table.to_dict("dict")["right"].values()) == {"–"}
