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
    assert text.startswith(
        "image,landmark,x,y,spacing_mm\nother.png,femur_right,1,2\n"
    )  # as it was
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


# ----- Detect's results (issue 18) --------------------------------------------------------
@pytest.fixture
def detected_with_a_flag(make_napari_viewer, monkeypatch, tmp_path):
    """A radiograph opened from a file (no ground truth), Detect run on it with knee_right
    flagged for review, and Leg alignment docked from the plugin menu."""
    from apn_core.inference import predictor as predictor_module
    from apn_core.inference.review import review_landmarks
    from apn_core.synth import SynthConfig, write_synthetic_folder
    from napari_apn import detect

    def flag_knee_right(xy, present, spacing, landmarks, features, calibrator):
        review = review_landmarks(xy, present, spacing, landmarks, features, calibrator)
        i = landmarks.index("knee_right")
        review.needs_review[i], review.reasons[i] = True, "low confidence 0.12"
        return review

    monkeypatch.setattr(predictor_module, "review_landmarks", flag_knee_right)
    config = SynthConfig(spacing_mm=2.0, formats=("dicom",), restricted_fraction=0.0)
    data = write_synthetic_folder(tmp_path / "data", 1, seed=8, config=config)
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(next(data.glob("*.dcm"))), plugin="napari-apn")
    points = detect(viewer, image)
    _, widget = viewer.window.add_plugin_dock_widget("napari-apn", "Leg alignment")
    return viewer, widget, points


def test_alignment_opens_on_the_landmarks_never_on_the_second_candidates(detected_with_a_flag):
    """It opened on "<image> second candidates" (HKA −39°, LLD −175 mm from alternatives)."""
    viewer, widget, points = detected_with_a_flag
    second = [ly.name for ly in viewer.layers if ly.name.endswith("second candidates")]
    assert second and second[0] not in widget.points.choices
    assert widget.points.value == points.name


def test_a_flagged_landmark_is_not_measured_until_it_is_moved(detected_with_a_flag):
    """The table showed HKA and lengths from a point the model itself flagged; the CLI
    leaves them empty with a note."""
    _, widget, points = detected_with_a_flag
    table = widget.table.to_dict("dict")
    assert table["right"]["hka_deg"] == "–" and table["right"]["femur_mm"] == "–"
    assert table["right"]["length_mm"] != "–"  # femur and ankle: not flagged
    assert "–" not in table["left"].values()
    assert "right: knee_right needs review" in widget.status.value
    knee = list(points.features["label"]).index("knee_right")
    data = points.data.copy()
    data[knee] += (1.0, 1.0)  # the user moved it: no longer the model's doubtful point
    points.data = data
    assert points.features["review_reason"][knee] == ""
    assert str(points.symbol[knee].value) == "disc"
    assert widget.table.to_dict("dict")["right"]["hka_deg"] != "–"
    assert "needs review" not in widget.status.value
