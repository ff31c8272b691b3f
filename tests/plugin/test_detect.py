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
    assert (
        widget.status.value == "failed"
        and widget.run_button.enabled
        and not widget.progress.visible
    )


def test_model_cache_reloads_when_the_weights_change(tmp_path):
    import os
    import shutil

    from apn_core.inference.model_store import BUNDLED_DIR
    from napari_apn._detect import _predictor

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
