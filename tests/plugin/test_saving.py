"""Nothing a user labelled is lost (issue 18): every way the plugin saves points — napari's
*File → Save Selected Layers* with the napari-apn writer, Leg alignment's *Save corrected
points to folder*, Annotate's R — driven through a viewer as a user does (widgets docked
by napari, so they get its ``PublicOnlyProxy`` of the viewer), onto a labelled folder with
three images, extra columns, a landmark outside the set, an absent mark, a BOM and CRLF
(``labelled_folder`` in conftest.py). Only the saved image's rows change, and of those only
the rows of what changed: its *untouched* landmarks keep their rows byte for byte (extra
columns included) and its ``patella_right`` row stays (the core's ``update_landmarks_csv``).
"""

from __future__ import annotations

import numpy as np
import pytest

from apn_core.annotations import read_landmarks_csv
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.problems import Report

ROWS = ["other images", "untouched landmarks"]


def table(folder) -> dict:
    return read_landmarks_csv(folder.path / "landmarks.csv", DEFAULT_LANDMARKS, Report())


def dock(viewer, name: str):
    """The widget as napari makes it from the plugin menu (given a proxy of the viewer)."""
    _, widget = viewer.window.add_plugin_dock_widget("napari-apn", name)
    return widget


def assert_untouched(folder, image: str, changed: set[str]) -> None:
    """The saved image's rows of landmarks not in ``changed`` (patella_right included)
    are byte for byte as they were."""
    before = [r for r in folder.rows_of(image, folder.original) if not _names(r) & changed]
    after = [r for r in folder.rows_of(image) if not _names(r) & changed]
    assert after == before


def _names(record: bytes) -> set[str]:
    return {record.split(b",")[1].decode()}


def _landmarks_layer(viewer, folder, image: str):
    """Open the folder's landmarks.csv (one layer per image) and return ``image``'s."""
    layers = viewer.open(str(folder.path / "landmarks.csv"), plugin="napari-apn")
    return next(ly for ly in layers if ly.metadata["apn_image"] == image)


@pytest.mark.parametrize("rows", ROWS)
def test_save_selected_layers_changes_only_that_images_rows(
    make_napari_viewer, labelled_folder, rows
):
    """The writer used to rewrite the whole table (126 rows → 5)."""
    folder, viewer = labelled_folder, make_napari_viewer()
    image = folder.images[2]
    layer = _landmarks_layer(viewer, folder, image)
    data = layer.data.copy()
    knee = list(layer.features["label"]).index("knee_right")
    data[knee] += (6.0, -4.0)
    layer.data = data
    viewer.layers.selection.active = layer  # the only selected layer
    viewer.layers.save(str(folder.path / "landmarks.csv"), selected=True, plugin="napari-apn")

    folder.assert_other_rows_kept(image)
    saved = table(folder)[image]
    i = DEFAULT_LANDMARKS.index("knee_right")
    np.testing.assert_allclose(saved.xy[i], data[knee][::-1], atol=1e-3)
    assert saved.present.all() and set(table(folder)) == set(folder.images)
    if rows == "untouched landmarks":
        assert_untouched(folder, image, {"knee_right"})


@pytest.mark.parametrize("rows", ROWS)
def test_save_corrected_points_keeps_the_table_and_saves_a_deleted_point_as_not_annotated(
    make_napari_viewer, labelled_folder, rows
):
    """Save corrected points rewrote the whole CSV (extra columns gone, CRLF → LF) and
    left a deleted point at its old position."""
    folder, viewer = labelled_folder, make_napari_viewer()
    image = folder.images[1]  # its ankle_left is marked absent
    layer = _landmarks_layer(viewer, folder, image)
    widget = dock(viewer, "Leg alignment")
    widget.points.value = layer.name
    labels = list(layer.features["label"])
    data = layer.data.copy()
    data[labels.index("femur_right")] += (3.0, 2.0)
    layer.data = data
    layer.remove([labels.index("knee_left")])  # deleted by the user
    widget.folder.value = folder.path
    widget.save_points()
    assert widget.status.value.startswith("saved to")

    folder.assert_other_rows_kept(image)
    saved = table(folder)[image]
    names = list(DEFAULT_LANDMARKS.names)
    assert not saved.annotated[names.index("knee_left")]  # not annotated: no row
    assert not any(b",knee_left," in r for r in folder.rows_of(image))
    assert saved.absent[names.index("ankle_left")]  # still "not in this image"
    np.testing.assert_allclose(
        saved.xy[names.index("femur_right")], data[labels.index("femur_right")][::-1], atol=1e-3
    )
    if rows == "untouched landmarks":
        assert_untouched(folder, image, {"femur_right", "knee_left"})


@pytest.mark.parametrize("rows", ROWS)
def test_annotate_saves_one_moved_point_of_a_labelled_image(
    make_napari_viewer, labelled_folder, qtbot, mouse, rows
):
    folder, viewer = labelled_folder, make_napari_viewer()
    widget = dock(viewer, "Annotate")
    widget.order.value = "folder order"
    widget.open_folder(folder.path)
    qtbot.waitUntil(lambda: widget.open_worker is None and widget.image is not None, timeout=120000)
    image = widget.image
    assert image == folder.images[0] and widget.editor.source == "landmarks.csv"
    widget.choose(DEFAULT_LANDMARKS.index("knee_right"))
    layer = widget.editor.points
    mouse(layer).click(layer.data_to_world(np.array([300.0, 60.0])))
    assert widget.mark_reviewed()
    qtbot.waitUntil(lambda: widget.list_worker is None, timeout=120000)

    folder.assert_other_rows_kept(image)
    saved = table(folder)[image]
    np.testing.assert_allclose(saved.xy[DEFAULT_LANDMARKS.index("knee_right")], (60.0, 300.0))
    assert saved.present.all()
    if rows == "untouched landmarks":
        assert_untouched(folder, image, {"knee_right"})


def test_saving_an_unchanged_image_writes_nothing(labelled_folder):
    """R on an image whose points are as saved leaves the file untouched (not rewritten)."""
    from napari_apn._save import save_image

    folder = labelled_folder
    image = folder.images[0]
    _, edits = save_image(folder.path / "landmarks.csv", table(folder)[image])
    assert not edits and edits.unchanged == DEFAULT_LANDMARKS.names
    assert folder.table == folder.original


def test_landmark_edits_say_unchanged_changed_or_deleted():
    from apn_core.annotations import ImageLabels
    from napari_apn._save import landmark_edits

    nan = np.nan
    saved = ImageLabels(
        "a.dcm",
        [[1, 2], [3, 4], [nan, nan], [5, 6], [nan, nan], [7, 8]],
        [True, True, True, True, False, True],
        spacing=(2.0, 2.0),
    )
    new = ImageLabels(
        "a.dcm",
        [[1.0004, 2], [3.5, 4], [nan, nan], [nan, nan], [9, 9], [nan, nan]],
        [True, True, True, True, True, False],
        spacing=(2.0, 2.0),
    )
    edits = landmark_edits(saved, new)
    names = DEFAULT_LANDMARKS.names
    assert edits.unchanged == (names[0], names[2])  # within the file's 3 decimals; absent
    assert edits.changed == (names[1], names[3], names[4])  # moved; newly absent; new
    assert edits.deleted == (names[5],)
    points = landmark_edits(saved, new).points(new)
    assert points == {
        names[1]: (3.5, 4.0),
        names[3]: "absent",
        names[4]: (9.0, 9.0),
        names[5]: "not annotated",
    }  # what the core's save function is told; the unchanged ones are not named
    new.spacing = (1.0, 1.0)  # a new spacing: every annotated landmark carries it
    assert set(landmark_edits(saved, new).changed) == set(names[:5])
