"""Annotate widget (issue 12, item 2): keys, clicks, saving one image's rows, resuming,
ordering by uncertainty, errors, and fine-tuning through the Train widget's runner."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from apn_core.annotations import read_landmarks_csv
from apn_core.dataset import load_labelled_folder
from apn_core.io import read_radiograph, write_tiff
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.synth import SynthConfig, write_synthetic_folder

NAMES = list(DEFAULT_LANDMARKS.names)
CLEAN = SynthConfig(  # every landmark visible: the bundled model places all six
    spacing_mm=2.0,
    hip_prosthesis_fraction=0.0,
    knee_prosthesis_fraction=0.0,
    shield_fraction=0.0,
    restricted_fraction=0.0,
    formats=("dicom", "tiff"),
)
TOUCHED_ROWS = (  # rows of the image nobody opens, written by hand (kept byte for byte)
    '"{e}",femur_right,49.10,48.30,,0\r\n{e},knee_right, 56.0800 ,287.681,,0\r\n'
)


def image_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".dcm", ".tif", ".png"))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return write_synthetic_folder(tmp_path_factory.mktemp("annotate") / "t", 5, 7, CLEAN)


@pytest.fixture
def data(template, tmp_path) -> Path:
    """a, b, c without labels; d a PNG labelled with spacing_mm; e labelled by hand."""
    out = shutil.copytree(template, tmp_path / "data")
    *_, d, e = image_names(out)
    png = read_radiograph(out / d)
    _write_png(out / "synth_7_0003.png", png.pixels)
    (out / d).unlink()
    truth = read_landmarks_csv(out / "landmarks.csv", DEFAULT_LANDMARKS)[d]
    rows = "".join(
        f"synth_7_0003.png,{n},{x:.3f},{y:.3f},2,0\r\n"
        for n, (x, y) in zip(NAMES, truth.xy, strict=True)
    )
    header = "image,landmark,x,y,spacing_mm,occluded\r\n"
    touched = TOUCHED_ROWS.format(e=e)
    (out / "landmarks.csv").write_bytes((header + rows + touched).encode())
    return out


def _write_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    lo, hi = float(pixels.min()), float(pixels.max())
    Image.fromarray(((pixels - lo) / (hi - lo) * 65535).astype(np.uint16)).save(path)


@pytest.fixture
def annotate(make_napari_viewer, qtbot, monkeypatch):
    """``annotate(folder, order=…)`` → an open widget, its viewer and ``press(key)``."""
    from napari_apn._qt.annotate_widget import AnnotateWidget

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    viewer = make_napari_viewer()

    def press(key: str) -> None:
        handler = viewer.window._qt_viewer._key_map_handler  # the canvas's key handler
        assert handler.press_key(key), key
        handler.release_key(key)
        idle(widget)

    def idle(w) -> None:
        qtbot.waitUntil(lambda: w.open_worker is None and w.list_worker is None, timeout=120000)

    def make(folder, order="folder order", **kwargs):
        nonlocal widget
        widget = AnnotateWidget(viewer)
        widget.order.value = order
        for name, value in kwargs.items():
            getattr(widget, name).value = value
        widget.folder.value = folder
        widget.open_button.changed.emit(True)
        idle(widget)
        return widget

    widget = None
    make.press, make.viewer, make.idle = press, viewer, idle
    return make


@pytest.fixture
def predictions(monkeypatch) -> list:
    """Every image the model predicted during the test (the network's own calls)."""
    from apn_core.inference import Predictor

    calls, real = [], Predictor.predict

    def counted(self, pixels, *args, **kwargs):
        calls.append(pixels.shape)
        return real(self, pixels, *args, **kwargs)

    monkeypatch.setattr(Predictor, "predict", counted)
    return calls


def new_session(predictions: list) -> None:
    """Forget what this process predicted (as a new napari session would)."""
    from napari_apn import _annotate

    _annotate._RECENT.clear()
    predictions.clear()


def point(layer, name: str) -> np.ndarray:
    """(row, col) image px of the landmark's one point."""
    labels = list(layer.features["label"])
    assert labels.count(name) == 1, labels
    return np.asarray(layer.data[labels.index(name)])


def click(mouse, layer, row_col) -> None:
    mouse(layer).click(layer.data_to_world(np.asarray(row_col, float)))


def test_annotate_three_images_with_keys_save_and_resume(annotate, data, mouse, predictions):
    a, b, c, d, e = image_names(data)
    assert d == "synth_7_0003.png"
    kept = (data / "landmarks.csv").read_bytes()
    w = annotate(data)
    press = annotate.press
    assert w.image == a and w.session.status(a, w.model_id) == "predicted"
    assert sorted(w.editor.points.features["label"]) == sorted(NAMES)
    assert w.editor.points.mode == "add"

    press("3")  # knee_right: a click moves its point there
    assert "▶3 knee_right" in w.marks.value
    click(mouse, w.editor.points, (300.0, 60.0))
    np.testing.assert_allclose(point(w.editor.points, "knee_right"), (300.0, 60.0))
    assert len(w.editor.points.data) == 6
    press("6")
    press("A")  # ankle_left is not in this image
    assert "ankle_left" not in set(w.editor.points.features["label"])
    press("R")
    press("N")
    assert w.image == b
    press("1")
    click(mouse, w.editor.points, (40.0, 45.5))
    press("N")  # saves b (changed), opens c
    assert w.image == c
    predicted_c = w.editor.points.data.copy(), list(w.editor.points.features["label"])
    press("R")  # the model's points, accepted as they are
    press("N")
    assert w.image == d  # a PNG: its spacing comes from landmarks.csv
    assert (
        tuple(w.editor.image_layer.scale) == (2.0, 2.0)
        and str(w.editor.image_layer.units[0]) == "millimeter"
    )
    assert w.editor.points.metadata["apn_source"] == "landmarks.csv"
    press("2")
    click(mouse, w.editor.points, (50.0, 140.0))
    press("P")  # saves d, back to c
    assert w.image == c

    table = read_landmarks_csv(data / "landmarks.csv", DEFAULT_LANDMARKS)
    assert set(table) == {a, b, c, d, e}
    assert table[a].as_dict(DEFAULT_LANDMARKS)["ankle_left"] is None  # absent: empty x,y
    assert table[a].present.sum() == 5 and table[a].annotated.all()
    np.testing.assert_allclose(table[a].xy[NAMES.index("knee_right")], (60.0, 300.0))
    np.testing.assert_allclose(table[b].xy[NAMES.index("femur_right")], (45.5, 40.0))
    assert table[b].present.all() and table[b].spacing == (2.0, 2.0)
    data_c, labels_c = predicted_c
    for (row, col), name in zip(data_c, labels_c, strict=True):
        np.testing.assert_allclose(table[c].xy[NAMES.index(name)], (col, row), atol=5e-4)
    np.testing.assert_allclose(table[d].xy[NAMES.index("femur_left")], (140.0, 50.0))
    assert table[d].spacing == (2.0, 2.0)
    text = (data / "landmarks.csv").read_bytes()
    assert TOUCHED_ROWS.format(e=e).encode() in text and text.startswith(kept.split(b"\r\n")[0])
    assert load_labelled_folder(data).report.ok  # `apn check` passes

    # reopen the folder (a new napari session): same image, statuses, nothing predicted
    new_session(predictions)
    w2 = annotate(data)
    assert w2.image == c and predictions == []
    statuses = {rel: w2.session.status(rel, w2.model_id) for rel in (a, b, c, d, e)}
    assert statuses == {
        a: "reviewed · 1 absent",
        b: "labelled",
        c: "reviewed",
        d: "labelled",
        e: "labelled",
    }
    state = json.loads((data / ".apn-annotate.json").read_text())
    assert state["current"] == c and sorted(state["reviewed"]) == [a, c]


def test_a_new_point_gets_the_chosen_landmark_and_duplicates_are_refused(
    annotate, data, mouse, notifications
):
    w = annotate(data)
    press, layer = annotate.press, w.editor.points
    labels = list(layer.features["label"])
    layer.remove([labels.index("knee_left")])
    layer.selected_data = {list(layer.features["label"]).index("femur_right")}
    assert w.editor.chosen == "femur_right"  # selecting a point chooses its landmark
    press("4")
    click(mouse, layer, (280.0, 140.0))
    assert sorted(layer.features["label"]) == sorted(NAMES)
    assert layer.features["label"].iloc[-1] == "knee_left"
    np.testing.assert_allclose(layer.face_color[-1], _colour_of("knee_left"))
    press("1")
    click(mouse, layer, (30.0, 30.0))  # femur_right has a point: it moves
    assert sorted(layer.features["label"]) == sorted(NAMES)
    np.testing.assert_allclose(point(layer, "femur_right"), (30.0, 30.0))
    assert not any("already placed" in m for m in notifications())

    before = (data / "landmarks.csv").read_bytes()
    features = layer.features.copy()
    features.loc[list(features["label"]).index("femur_left"), "label"] = "femur_right"
    layer.features = features  # a relabelled point: two femur_right
    press("N")
    assert w.image == image_names(data)[0]  # not saved, so not moved on
    assert any("femur_right" in m and "2 points" in m for m in notifications())
    assert (data / "landmarks.csv").read_bytes() == before


def _colour_of(name: str) -> np.ndarray:
    from napari.utils.colormaps.standardize_color import transform_color

    from apn_core.palette import hex_colour

    return transform_color(hex_colour(NAMES.index(name)))[0]


def test_uncertainty_is_one_minus_the_lowest_present_confidence():
    from napari_apn._annotate_state import Uncertainty, uncertainty

    u = uncertainty(np.array([0.9, 0.8, 0.1]), np.array([True, True, False]))
    assert u == Uncertainty(0.2, 1) and u.value == 1.2  # one absent + 1 − 0.8
    assert uncertainty(np.array([0.5]), np.array([False])) == Uncertainty(1.0, 1)
    assert sorted(
        [Uncertainty(0.9, 0), Uncertainty(0.1, 2), Uncertainty(0.3, 0)], key=Uncertainty.sort_key
    ) == [Uncertainty(0.1, 2), Uncertainty(0.9, 0), Uncertainty(0.3, 0)]


@pytest.fixture
def images_only(template, tmp_path) -> tuple[Path, str]:
    """Three images, no landmarks.csv; one is cut above its ankles (a restricted view)."""
    out = tmp_path / "images"
    out.mkdir()
    names = image_names(template)[:3]
    for name in names:
        shutil.copy(template / name, out / name)
    hard = names[1]
    truth = read_landmarks_csv(template / "landmarks.csv", DEFAULT_LANDMARKS)[hard]
    radiograph = read_radiograph(out / hard)
    pixels = radiograph.pixels.copy()
    ankle = int(np.nanmin(truth.xy[4:, 1]))
    pixels = pixels[: ankle - 40]  # a model may well place ankles under a blank band
    (out / hard).unlink()
    write_tiff(out / "synth_7_0001.tif", pixels.astype(np.float32), radiograph.spacing)
    return out, "synth_7_0001.tif"


def test_the_least_certain_image_comes_first_and_predictions_are_cached(
    annotate, images_only, predictions
):
    folder, hard = images_only
    w = annotate(folder, order="least certain first")
    assert w.rows[0] == hard, [(r, w.session.status(r, w.model_id)) for r in w.rows]
    assert w.session.status(hard, w.model_id) == "predicted · 2 absent"
    assert w.table.item(0, 0).text() == hard
    assert w.image == hard  # the first time, the least certain image opens

    new_session(predictions)
    annotate(folder, order="least certain first")
    assert predictions == []  # reopening: from the state file
    os.utime(folder / image_names(folder)[0], ns=(1, 1))  # a changed file predicts again
    new_session(predictions)
    annotate(folder, order="least certain first")
    assert len(predictions) == 1


def test_predictions_run_in_a_worker_and_cancel_keeps_what_is_done(make_napari_viewer, data, qtbot):
    from napari_apn._qt.annotate_widget import AnnotateWidget

    w = AnnotateWidget(make_napari_viewer())
    w.order.value = "folder order"
    assert w.open_folder(data)
    assert w.list_worker is not None  # returned at once: predicting goes on in a thread
    w.cancel_predictions()
    qtbot.waitUntil(lambda: w.list_worker is None and w.open_worker is None, timeout=120000)
    assert w.status.value.startswith("cancelled")
    left = w.session.stale(w.model_id)
    assert 0 < len(left) < len(w.session.images)  # the open image is predicted, not all
    state = json.loads((data / ".apn-annotate.json").read_text())
    cached = set(next(iter(state["predictions"].values()), {}))
    assert cached == set(w.session.images) - set(left)


def test_errors_are_status_text_and_notifications(annotate, tmp_path, template, notifications):
    (tmp_path / "empty").mkdir()
    w = annotate(tmp_path / "empty")
    assert w.session is None and w.status.value.startswith("failed: ")
    assert any("holds no radiographs" in m for m in notifications())

    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a_broken.dcm").write_bytes(b"DICM but not really")
    _write_png(folder / "b.png", read_radiograph(template / image_names(template)[0]).pixels)
    (folder / ".apn-annotate.json").write_text("{not json")
    w = annotate(folder)
    assert any("starting afresh" in m for m in notifications())
    assert w.session.status("a_broken.dcm", w.model_id) == "unreadable"
    assert w.image is None  # could not open it, and said why
    assert any("a_broken.dcm" in m for m in notifications())
    w.open_image("b.png")
    annotate.idle(w)
    assert w.image == "b.png" and str(w.editor.points.units[0]) == "pixel"
    assert any("no pixel spacing" in m for m in notifications())
    assert w.mark_reviewed()
    assert read_landmarks_csv(folder / "landmarks.csv", DEFAULT_LANDMARKS)["b.png"].spacing is None

    w.fallback.value = 2.0  # a spacing for images without one: used and written
    w.open_image("b.png")
    annotate.idle(w)
    assert tuple(w.editor.points.scale) == (2.0, 2.0)
    assert w.mark_reviewed()
    saved = read_landmarks_csv(folder / "landmarks.csv", DEFAULT_LANDMARKS)["b.png"]
    assert saved.spacing == (2.0, 2.0)


def test_a_folder_that_cannot_take_the_state_file_still_saves_labels(
    annotate, data, monkeypatch, notifications
):
    import errno

    from apn_core.utils import atomic

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "write_text_atomic", full)
    w = annotate(data)
    annotate.press("R")
    warned = [m for m in notifications() if "cannot keep the state file" in m]
    assert len(warned) == 1  # said once, not at every change
    assert read_landmarks_csv(data / "landmarks.csv", DEFAULT_LANDMARKS)[w.image].present.all()
    assert not (data / ".apn-annotate.json").exists()


def test_fine_tune_on_reviewed_images_from_the_current_model(annotate, template, tmp_path, qtbot):
    from apn_core import runs
    from napari_apn._runs import recent_runs

    data = shutil.copytree(template, tmp_path / "data")
    before = sorted(p.name for p in data.iterdir())
    w = annotate(data)
    w.finetune.minutes.value = 0.01
    annotate.press("R")
    annotate.press("N")
    annotate.press("R")
    reviewed = image_names(data)[:2]
    assert w.session.reviewed_images() == reviewed
    run = tmp_path / "run"
    panel = w.finetune
    panel.run.value = run
    assert panel.start()
    assert panel.runner.running and not panel.start_button.enabled
    qtbot.waitUntil(lambda: not panel.runner.running, timeout=180000)
    assert panel.status.value.startswith("finished"), panel.status.value
    init = json.loads((run / "config.json").read_text())["init"]
    assert init["model"] == "default" and init["source"] == "bundled:default"
    trained = read_landmarks_csv(run / "reviewed" / "landmarks.csv", DEFAULT_LANDMARKS)
    assert sorted(trained) == reviewed
    assert runs.has_checkpoint(run)
    assert w.model_name() == str(run.resolve()) and str(run.resolve()) in recent_runs()
    annotate.idle(w)  # the list is predicted again by the new model
    assert w.session.state.model == str(run.resolve())
    assert len(w.session.state.predictions) == 2 and not w.session.stale(w.model_id)
    assert sorted(p.name for p in data.iterdir()) == sorted([*before, ".apn-annotate.json"])


def test_the_other_images_go_to_fine_tuning_as_unlabelled_data(
    annotate, template, tmp_path, monkeypatch
):
    data = shutil.copytree(template, tmp_path / "data")
    w = annotate(data)
    annotate.press("R")
    started = []
    monkeypatch.setattr(w.finetune.runner, "start", lambda command, *_: started.append(command))
    w.finetune.run.value = tmp_path / "run"
    assert w.finetune.unlabelled.value and w.finetune.start()
    (command,) = started
    assert command[command.index("--init") + 1] == "default"
    unlabelled = Path(command[command.index("--unlabelled") + 1])
    assert image_names(unlabelled) == image_names(data)[1:]  # every image not reviewed
    assert not (unlabelled / "landmarks.csv").exists()
    assert image_names(Path(command[4])) == image_names(data)[:1]


def test_the_state_file_round_trips_and_drops_what_it_cannot_read():
    from napari_apn._annotate_state import CachedPrediction, State

    nan = np.nan
    p = CachedPrediction(
        (10, 20),
        ("a", "b"),
        np.array([[1.0, 2.0], [nan, nan]]),
        np.array([0.9, 0.1]),
        np.array([True, False]),
    )
    state = State("x.dcm", "default", {"x.dcm"}, {"m1": {"x.dcm": p}})
    d = json.loads(json.dumps(state.to_json(), allow_nan=False))  # strict JSON: no NaN
    d["predictions"]["m1"]["y.dcm"] = {"names": ["a"], "xy": "garbage"}
    back = State.from_json(d)
    assert back.current == "x.dcm" and back.reviewed == {"x.dcm"}
    assert list(back.predictions["m1"]) == ["x.dcm"]  # the malformed entry is dropped
    q = back.predictions["m1"]["x.dcm"]
    np.testing.assert_array_equal(q.xy, p.xy)
    assert q.stamp == (10, 20) and list(q.present) == [True, False]
    with pytest.raises(ValueError):
        State.from_json({"format": "something else"})


def test_annotate_docks_from_the_plugin_menu(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-apn", "Annotate")
    assert widget.help.value.startswith("Keys: 1–6")


# ----- nothing is dropped (issue 18) ------------------------------------------------------
def test_edits_made_while_the_next_image_loads_are_saved(annotate, data, mouse):
    """The image that was open kept taking clicks while the next one loaded, and was then
    closed without saving them."""
    a, b, *_ = image_names(data)
    w = annotate(data)
    assert w.image == a
    assert w.open_image(b)  # loading in a worker …
    w.choose(NAMES.index("knee_right"))
    click(mouse, w.editor.points, (300.0, 60.0))  # … while a still takes clicks
    assert w.editor.dirty
    annotate.idle(w)
    assert w.image == b
    saved = read_landmarks_csv(data / "landmarks.csv", DEFAULT_LANDMARKS)[a]
    np.testing.assert_allclose(saved.xy[NAMES.index("knee_right")], (60.0, 300.0))


def test_closing_napari_saves_the_open_images_changes(make_napari_viewer, data, qtbot, mouse):
    viewer = make_napari_viewer()
    _, w = viewer.window.add_plugin_dock_widget("napari-apn", "Annotate")
    w.order.value = "folder order"
    w.open_folder(data)
    qtbot.waitUntil(lambda: w.open_worker is None and w.image is not None, timeout=120000)
    qtbot.waitUntil(lambda: w.list_worker is None, timeout=120000)
    image = w.image
    w.choose(NAMES.index("femur_left"))
    click(mouse, w.editor.points, (52.0, 150.0))
    viewer.close()  # napari's File → Close Window: nothing asks, the change is saved
    saved = read_landmarks_csv(data / "landmarks.csv", DEFAULT_LANDMARKS)[image]
    np.testing.assert_allclose(saved.xy[NAMES.index("femur_left")], (150.0, 52.0))


def test_a_close_that_cannot_save_is_refused_once_with_the_reason(annotate, data, notifications):
    from napari_apn._qt.close_guard import CloseGuard

    w = annotate(data)
    features = w.editor.points.features.copy()
    features.loc[list(features["label"]).index("femur_left"), "label"] = "femur_right"
    w.editor.points.features = features  # two femur_right: cannot be saved
    guard = CloseGuard(w)
    assert not guard.closing(may_refuse=True)  # the window's close button: refused once
    assert any("cannot be saved" in m for m in notifications())
    assert guard.closing(may_refuse=True)  # closing again closes, without them
    w.editor.dirty = False  # (nothing left for the fixture's own close)


def test_least_certain_first_sorts_by_the_uncertainty_column(annotate, images_only):
    """The order (absent landmarks first, then the score) disagreed with the column, which
    showed only the score: one number now, sorted by it."""
    from napari_apn._annotate_state import Uncertainty

    folder, _ = images_only
    w = annotate(folder, order="least certain first")
    shown = [float(w.table.item(r, 2).text()) for r in range(w.table.rowCount())]
    assert shown == sorted(shown, reverse=True) and len(set(shown)) > 1
    assert shown[0] >= 2.0  # the image cut above its ankles: two absent
    assert Uncertainty(0.9, 0).value < Uncertainty(0.1, 1).value == 1.1
