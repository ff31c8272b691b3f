"""One point per landmark: napari's add mode, relabelling and colours (issue 12, item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils.colormaps.standardize_color import transform_color

from apn_core.palette import hex_colour

NAMES = ["femur_right", "femur_left", "knee_right", "knee_left", "ankle_right", "ankle_left"]


@pytest.fixture
def sample(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    return viewer


@pytest.fixture
def truth(sample):
    return sample.layers["ground truth"]


def colour_of(name: str) -> np.ndarray:
    return transform_color(hex_colour(NAMES.index(name)))[0]


def test_a_point_added_after_selecting_another_gets_the_missing_landmark(truth, mouse):
    """The bug: napari copies the selected point's label into a new point (a second
    ankle_left on the femur). A new point gets the landmark that is not placed yet."""
    truth.remove([NAMES.index("ankle_left")])
    truth.selected_data = {0}  # femur_right selected: napari now defaults to its label
    truth.mode = "add"
    where = truth.data_to_world(truth.data[0] + 50)
    mouse(truth).click(where)
    assert len(truth.data) == 6
    assert truth.features["label"].iloc[-1] == "ankle_left"
    np.testing.assert_allclose(truth.face_color[-1], colour_of("ankle_left"))
    assert sorted(truth.features["label"]) == sorted(NAMES)


def test_a_duplicate_point_is_refused_with_a_notification(truth, mouse, notifications):
    truth.selected_data = {NAMES.index("ankle_left")}
    truth.mode = "add"
    mouse(truth).click(truth.data_to_world(truth.data[0] + 50))
    assert list(truth.features["label"]) == NAMES  # still one point per landmark
    assert any("already placed" in m for m in notifications())


def test_a_relabelled_point_takes_its_landmarks_colour(truth):
    features = truth.features.copy()
    features.loc[0, "label"] = "knee_left"
    truth.features = features
    np.testing.assert_allclose(truth.face_color[0], colour_of("knee_left"))


def test_detect_result_is_coloured_by_label_and_refuses_a_seventh_point(sample, mouse):
    from napari_apn import detect

    points = detect(sample, "synthetic long leg")
    assert list(points.features["label"]) == NAMES
    for i, name in enumerate(NAMES):
        np.testing.assert_allclose(points.face_color[i], colour_of(name))
    points.selected_data = {0}
    points.mode = "add"
    mouse(points).click(points.data_to_world(points.data[0] + 50))
    assert list(points.features["label"]) == NAMES


def test_choose_makes_the_next_point_that_landmark(truth, mouse):
    from napari_apn._points import choose

    truth.remove([NAMES.index("knee_left"), NAMES.index("ankle_left")])
    choose(truth, "ankle_left")
    truth.mode = "add"
    mouse(truth).click(truth.data_to_world(truth.data[0] + 50))
    assert truth.features["label"].iloc[-1] == "ankle_left"
