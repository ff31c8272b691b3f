"""Detect on the sample radiograph with the bundled model, in a real viewer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_apn import detect


def test_detect_on_sample_twice_gives_six_points_near_truth_without_duplicates(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    truth = viewer.layers["ground truth"]
    points = detect(viewer, "synthetic long leg")
    assert points.name == "synthetic long leg landmarks"
    assert list(points.features["label"]) == list(truth.features["label"])
    # world coordinates are mm: every landmark within 5 mm of the truth
    world_pred = np.array([points.data_to_world(p) for p in points.data])
    world_true = np.array([truth.data_to_world(p) for p in truth.data])
    err = np.linalg.norm(world_pred - world_true, axis=1)
    assert err.max() < 5.0, err
    assert (points.features["confidence"] > 0.3).all()
    heat = viewer.layers["synthetic long leg heatmaps"]
    assert heat.blending == "additive"
    # the heatmap maximum near the femoral head lies on the femoral head (aligned overlay)
    peak = np.unravel_index(np.argmax(heat.data), heat.data.shape)
    peak_world = heat.data_to_world(peak)
    assert np.min(np.linalg.norm(world_true - np.asarray(peak_world), axis=1)) < 10.0
    n_layers = len(viewer.layers)
    detect(viewer, viewer.layers["synthetic long leg"], show_heatmaps=False)
    assert len(viewer.layers) == n_layers  # updated in place
    assert viewer.layers["synthetic long leg heatmaps"].visible is False


def test_detect_widget_runs_in_a_worker(make_napari_viewer, qtbot):
    from napari_apn._qt.detect_widget import DetectWidget

    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    widget = DetectWidget(viewer)
    viewer.window.add_dock_widget(widget)
    assert widget.image.value == "synthetic long leg"
    assert widget.model_name() == "default"
    widget.run()
    assert widget.cancel_button.enabled  # running in the background; the UI stays live
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    assert "synthetic long leg landmarks" in viewer.layers
    assert widget.status.value.startswith("6 landmarks")


def test_detect_widget_reports_errors_without_getting_stuck(make_napari_viewer, qtbot, tmp_path):
    from napari_apn._qt.detect_widget import DetectWidget

    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    widget = DetectWidget(viewer)
    (tmp_path / "not_a_run").mkdir()
    widget.browse.value = tmp_path / "not_a_run"
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    # the worker's `errored` signal brings the reason to the status line
    assert widget.status.value.startswith("failed: ") and "not a run folder" in widget.status.value
    assert widget.run_button.enabled and not widget.progress.visible


def test_unticking_heatmaps_hides_them_at_once(make_napari_viewer, qtbot):
    from napari_apn._qt.detect_widget import DetectWidget

    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    widget = DetectWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    heatmaps = viewer.layers["synthetic long leg heatmaps"]
    assert heatmaps.visible
    widget.heatmaps.value = False
    assert not heatmaps.visible
    widget.heatmaps.value = True
    assert heatmaps.visible


def test_cancel_resets_the_status_and_discards_the_result(make_napari_viewer, qtbot):
    from napari_apn._qt.detect_widget import DetectWidget

    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    widget = DetectWidget(viewer)
    widget.run()
    widget.cancel()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    qtbot.wait(50)  # let queued signals of the worker arrive
    assert widget.status.value == "cancelled"
    assert not widget.progress.visible and widget.run_button.enabled
    assert not widget.cancel_button.enabled
    assert "synthetic long leg landmarks" not in viewer.layers


def test_docked_widget_follows_the_layer_list_through_napari(make_napari_viewer):
    """No manual wiring: add_dock_widget connects reset_choices to layer events."""
    import numpy as np

    from napari_apn._qt.detect_widget import DetectWidget

    viewer = make_napari_viewer()
    widget = DetectWidget(viewer)
    viewer.window.add_dock_widget(widget)
    assert widget.image.choices == ()
    viewer.add_image(np.zeros((8, 4)), name="new image")
    assert widget.image.choices == ("new image",)


def test_model_cache_reloads_when_the_weights_change(tmp_path):
    import os
    import shutil

    from apn_core.inference.model_store import BUNDLED_DIR
    from napari_apn._models import predictor as _predictor

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(BUNDLED_DIR / "default" / "config.json", run / "config.json")
    shutil.copy(BUNDLED_DIR / "default" / "model.safetensors", run / "best.safetensors")
    first = _predictor(str(run))
    assert _predictor(str(run)) is first  # cached
    stat = (run / "best.safetensors").stat()
    os.utime(run / "best.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert _predictor(str(run)) is not first  # retrained → reloaded


def test_detect_on_a_layer_without_spacing_gives_positions_but_no_mm(make_napari_viewer):
    """An array added in the console has napari's default pixel units: its scale is not a
    spacing, so the landmarks land on the anatomy but nothing is reported in mm."""
    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    sample, truth = viewer.layers["synthetic long leg"], viewer.layers["ground truth"]
    viewer.add_image(sample.data, name="plain array")
    points = detect(viewer, "plain array")
    assert points.metadata["apn_spacing_mm"] is None
    assert tuple(str(u) for u in points.units) == ("pixel", "pixel")
    assert np.abs(points.data - truth.data).max() < 10  # image pixels (0.5 mm each)


def test_layer_spacing_reads_units():
    from napari.layers import Image

    from napari_apn._layers import layer_spacing_mm

    image = np.zeros((4, 4))
    assert layer_spacing_mm(Image(image, scale=(0.2, 0.1), units=("mm", "mm"))) == (0.2, 0.1)
    got = layer_spacing_mm(Image(image, scale=(143.0, 143.0), units=("um", "um")))
    assert got == pytest.approx((0.143, 0.143))
    assert layer_spacing_mm(Image(image, scale=(0.5, 0.5))) is None  # napari's default: pixel


# ----- layers know their image (issue 12, item 3) -----------------------------------------
def _rows(csv_path):
    import csv

    with open(csv_path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_corrected_points_of_a_file_opened_dicom_are_saved_for_that_file(
    make_napari_viewer, tmp_path
):
    """Detect on a DICOM opened from a labelled folder, move a point, save to the folder:
    the rows name ``x.dcm`` (not the layer name ``x``) and ``apn check`` passes."""
    from apn_core.dataset import load_labelled_folder
    from apn_core.synth import SynthConfig, write_synthetic_folder
    from napari_apn._qt.alignment_widget import AlignmentWidget

    config = SynthConfig(spacing_mm=1.0, formats=("dicom",), restricted_fraction=0.0)
    data = write_synthetic_folder(tmp_path / "data", 2, seed=4, config=config)
    name = sorted(p.name for p in data.glob("*.dcm"))[0]
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(data / name), plugin="napari-apn")
    points = detect(viewer, image)
    assert points.metadata["apn_image_path"] == str((data / name).resolve())
    moved = points.data.copy()
    moved[0] += (4.0, -3.0)
    points.data = moved
    widget = AlignmentWidget(viewer)
    widget.points.value = points.name
    widget.folder.value = data
    widget.save_points()
    folder = load_labelled_folder(data)
    assert folder.report.ok, [str(p) for p in folder.report.problems]
    rows = _rows(data / "landmarks.csv")
    images = {r["image"] for r in rows}
    assert name in images and name.removesuffix(".dcm") not in images
    first = next(
        r for r in rows if r["image"] == name and r["landmark"] == points.features["label"][0]
    )
    assert (float(first["x"]), float(first["y"])) == pytest.approx(
        (moved[0, 1], moved[0, 0]), abs=1e-3
    )
    assert sum(r["image"] == name for r in rows) == 6

    # the npe2 writer names the image the same way, relative to the CSV's folder …
    from napari_apn._writer import write_points

    layer_data, meta, _ = points.as_layer_data_tuple()
    (path,) = write_points(str(data / "corrected.csv"), layer_data, meta)
    assert {r["image"] for r in _rows(path)} == {name}
    # … and refuses a folder that does not hold the image
    from apn_core.errors import FileProblem

    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(FileProblem, match="not inside this folder"):
        write_points(str(tmp_path / "elsewhere" / "landmarks.csv"), layer_data, meta)
    widget.folder.value = tmp_path / "elsewhere"
    widget.save_points()
    assert widget.status.value == "not saved"
    assert not (tmp_path / "elsewhere" / "landmarks.csv").exists()


def test_a_console_array_has_no_image_to_save_points_for(make_napari_viewer, tmp_path):
    from apn_core.errors import FileProblem
    from napari_apn._writer import write_points

    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    viewer.add_image(viewer.layers["synthetic long leg"].data, name="plain array")
    points = detect(viewer, "plain array")
    layer_data, meta, _ = points.as_layer_data_tuple()
    with pytest.raises(FileProblem, match="which image"):
        write_points(str(tmp_path / "landmarks.csv"), layer_data, meta)


def test_a_landmark_that_needs_review_is_hollow_with_its_reason_and_a_second_candidate(
    make_napari_viewer, monkeypatch
):
    """Flags reach the napari layer: a flagged landmark is drawn as a ring whose text says
    why, its second-best candidate is marked, and the per-landmark heatmaps are a K-plane
    layer beside the max projection."""
    from apn_core.inference import predictor as predictor_module
    from apn_core.inference.review import review_landmarks

    def flag_knee_right(xy, present, spacing, landmarks, features, calibrator):
        review = review_landmarks(xy, present, spacing, landmarks, features, calibrator)
        i = landmarks.index("knee_right")
        review.needs_review[i] = True
        review.reasons[i] = (
            "low confidence 0.12; " + "femur/tibia right 1.62, plausible 1.0–1.5 " * 5
        )
        return review

    monkeypatch.setattr(predictor_module, "review_landmarks", flag_knee_right)
    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    points = detect(viewer, "synthetic long leg")
    labels = list(points.features["label"])
    i = labels.index("knee_right")
    assert points.symbol[i].value == "ring"
    assert points.features["review"][i] == " ⚠ low confidence 0.12"  # its first clause
    # the canvas shows a short text beside the point; the whole reason stays in a feature
    assert points.features["review_reason"][i].endswith("plausible 1.0–1.5 ")
    assert all(points.features["review"][j] == "" for j in range(len(labels)) if j != i)
    assert points.metadata["apn_review"]["flagged"] == ["knee_right"]
    second = viewer.layers["synthetic long leg second candidates"]
    assert list(second.features["label"]) in (["knee_right"], [])  # none when the map has one peak
    per_landmark = viewer.layers["synthetic long leg heatmap per landmark"]
    assert per_landmark.data.shape[0] == 6 and per_landmark.visible is False


def test_opening_the_widget_does_not_import_torch():
    """Listing runs for the model menu used to import torch (apn_core.runs) on the UI
    thread: ~1.5 s before the widget appeared (issue 13, item 5)."""
    code = (
        "import sys; from napari_apn._runs import recent_runs; "
        "import napari_apn._qt.detect_widget; recent_runs(); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code], check=True)


def test_widget_warms_the_model_up_so_the_click_does_not_load_it(
    make_napari_viewer, qtbot, monkeypatch
):
    from apn_core.inference import Predictor
    from napari_apn import _models
    from napari_apn._qt.detect_widget import DetectWidget

    _models.clear_cache()
    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    widget = DetectWidget(viewer)
    widget.warm_up.join(timeout=60)
    assert _models._load.cache_info().currsize == 1

    def no_load(*args, **kwargs):
        raise AssertionError("the click loaded the model")

    monkeypatch.setattr(Predictor, "load", no_load)
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    assert widget.status.value.startswith("6 landmarks")


def test_predict_layer_passes_the_pixels_as_stored_on_the_idle_cores(monkeypatch):
    """No full-size float32 copy of the layer (the reduction reads the integers), and the
    torch pool sized by apn_core.inference.threads for the call."""
    import torch

    from apn_core.inference import Predictor, threads
    from napari_apn._detect import ImageInput, predict_layer
    from napari_apn._layers import ImageRef

    seen = {}

    def fake_predict(self, image, spacing=None):
        seen["dtype"], seen["threads"] = image.dtype, torch.get_num_threads()
        return "prediction"

    monkeypatch.setattr(Predictor, "predict", fake_predict)
    monkeypatch.setattr(threads, "inference_threads", lambda limit=None: 1)
    image = np.zeros((40, 16), np.uint16)
    source = ImageInput(image, "x", (1, 1), (0, 0), ("px", "px"), ImageRef("x", None, None))
    before = torch.get_num_threads()
    assert predict_layer(source) == "prediction"
    assert seen == {"dtype": np.uint16, "threads": 1}
    assert torch.get_num_threads() == before


def test_warm_up_restores_the_garbage_collector():
    import gc

    from napari_apn._models import warm_up

    assert gc.isenabled()
    warm_up("default")
    assert gc.isenabled()
    gc.disable()
    try:
        warm_up("default")
        assert not gc.isenabled()  # left as the host application had it
    finally:
        gc.enable()


def test_rerun_keeps_an_unchanged_frame_without_refreshing_it(make_napari_viewer):
    """Re-running Detect set scale and translate again on every layer: each set refreshes
    the layer (~40 ms of the warm click on 4 layers). A changed frame is still applied."""
    from napari_apn._layers import add_or_update

    viewer = make_napari_viewer()
    kwargs = {"name": "p", "scale": (0.5, 0.5), "translate": (1.0, 2.0), "size": 3}
    (layer,) = add_or_update(viewer, [(np.zeros((2, 2)), dict(kwargs), "points")])
    fired = []
    layer.events.scale.connect(lambda e: fired.append("scale"))
    layer.events.translate.connect(lambda e: fired.append("translate"))
    add_or_update(viewer, [(np.ones((3, 2)), dict(kwargs), "points")])
    assert fired == [] and len(layer.data) == 3
    add_or_update(viewer, [(np.ones((3, 2)), {**kwargs, "scale": (0.25, 0.25)}, "points")])
    assert fired == ["scale"] and list(layer.scale) == [0.25, 0.25]
