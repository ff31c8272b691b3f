"""The widget kit (issue 18): widgets driven as napari makes them (given its
``PublicOnlyProxy`` of the viewer), one model cache keyed on weights *and* calibration,
one worker helper whose cancelled jobs cannot touch the next one, the shared model
picker, and status lines that never widen the dock."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

WIDGETS = ["Detect landmarks", "Batch predict folder", "Train model", "Leg alignment", "Annotate"]


def dock(viewer, name: str):
    """The widget as napari makes it from the plugin menu (given a proxy of the viewer)."""
    _, widget = viewer.window.add_plugin_dock_widget("napari-apn", name)
    return widget


@pytest.mark.parametrize("name", WIDGETS)
def test_napari_hands_every_widget_a_proxy_and_each_shows_a_status_line(make_napari_viewer, name):
    from napari.utils._proxies import PublicOnlyProxy

    from napari_apn._qt._common import StatusLabel

    widget = dock(make_napari_viewer(), name)
    assert isinstance(widget.viewer, PublicOnlyProxy)
    assert isinstance(widget.status, StatusLabel)


def test_rerunning_detect_through_the_proxy_updates_its_layers_in_place(make_napari_viewer, qtbot):
    """napari's proxy made the type check of the layer update fail: a second run added
    "<image> landmarks [1]" and three more layers."""
    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    widget = dock(viewer, "Detect landmarks")
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    names = [layer.name for layer in viewer.layers]
    assert "synthetic long leg landmarks" in names and len(names) == 6
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    assert [layer.name for layer in viewer.layers] == names
    assert widget.status.value.startswith("6 landmarks")


def test_cancel_then_run_the_cancelled_runs_end_does_not_touch_the_new_run(
    make_napari_viewer, qtbot, monkeypatch
):
    """The cancelled worker's finish re-enabled Run and reset the widget while the new
    run went on."""
    from napari_apn import _detect

    gates = [threading.Event(), threading.Event()]
    calls = []
    real = _detect.predict_layer

    def gated(source, model="default"):
        gate = gates[len(calls)]
        calls.append(model)
        assert gate.wait(60)
        return real(source, model)

    monkeypatch.setattr(_detect, "predict_layer", gated)
    try:
        _cancel_then_run(make_napari_viewer(), qtbot, gates, calls)
    finally:
        for gate in gates:  # never leave a worker waiting
            gate.set()


def _cancel_then_run(viewer, qtbot, gates, calls) -> None:
    viewer.open_sample("napari-apn", "long_leg")
    widget = dock(viewer, "Detect landmarks")
    widget.run()
    first = widget.worker
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=60000)
    widget.cancel()
    assert widget.status.value == "cancelled" and widget.run_button.enabled
    widget.run()
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=60000)
    done = []
    first.finished.connect(lambda: done.append(True))
    gates[0].set()  # the cancelled run ends now, while the new one predicts
    qtbot.waitUntil(lambda: bool(done), timeout=60000)
    qtbot.wait(50)
    assert not widget.run_button.enabled and widget.cancel_button.enabled
    assert not widget.progress.native.isHidden() and widget.status.value == "predicting…"
    assert "synthetic long leg landmarks" not in viewer.layers  # its result is dropped
    gates[1].set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    assert widget.status.value.startswith("6 landmarks") and widget.run_button.enabled


@pytest.fixture
def uncalibrated_run(tmp_path):
    """The bundled model as a run folder without its calibration."""
    from apn_core.inference.model_store import BUNDLED_DIR

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(BUNDLED_DIR / "default" / "config.json", run / "config.json")
    shutil.copy(BUNDLED_DIR / "default" / "model.safetensors", run / "best.safetensors")
    return run


def test_the_model_cache_reloads_after_apn_calibrate(uncalibrated_run, tmp_path):
    """Keyed on the weights only, the cache kept serving the uncalibrated model after
    `apn calibrate` wrote calibration.json: Detect stayed uncalibrated and Annotate stored
    its confidences under the calibrated model's identity."""
    from apn_core.inference.model_store import BUNDLED_DIR
    from apn_core.io import Radiograph
    from apn_core.synth import SynthConfig, generate_case
    from napari_apn._annotate import predict_image
    from napari_apn._models import model_identity, predictor

    run = str(uncalibrated_run)
    first = predictor(run)
    assert first.calibrator is None and predictor(run) is first
    case = generate_case(3, 0, SynthConfig(spacing_mm=2.0, restricted_fraction=0.0))
    image = tmp_path / "leg.npy"
    np.save(image, case.bone_bright)
    radiograph = Radiograph(
        image, case.bone_bright.astype("float32"), (2.0, 2.0), "test", "MONOCHROME2",
        "uint16", "synthetic", {},
    )  # fmt: skip
    before, identity = predict_image(radiograph, run), model_identity(run)

    shutil.copy(BUNDLED_DIR / "default" / "calibration.json", uncalibrated_run)  # calibrated
    calibrated = predictor(run)
    assert calibrated is not first and calibrated.calibrator is not None
    after = predict_image(radiograph, run)
    assert model_identity(run) != identity
    assert not np.allclose(after.confidence, before.confidence)
    expected = calibrated.predict(radiograph.pixels, radiograph.spacing).confidence
    np.testing.assert_allclose(after.confidence, expected, atol=1e-6)


def test_the_finetune_preset_never_trains_from_scratch(make_napari_viewer, tiny_run, tmp_path):
    """The Train widget offered `finetune` with no starting model: it trained from random
    weights (70 of 70 landmarks absent)."""
    from apn_core.cli.train import base_config
    from apn_core.runs import load_config
    from napari_apn._qt.model_picker import SCRATCH

    widget = dock(make_napari_viewer(), "Train model")
    assert widget.init.choice.value == SCRATCH and widget.init.model() is None
    assert "--init" not in widget.command("cfg.json")
    widget.preset.value = "finetune"
    assert SCRATCH not in widget.init.choice.choices
    assert widget.init.model() == "default"  # the bundled model, not random weights
    command = widget.command("cfg.json")
    assert command[command.index("--init") + 1] == "default"

    _, run = tiny_run
    widget.init.browse.value = run  # a run chosen on disk: remembered and selected
    assert widget.init.model() == str(run.resolve()) and str(widget.init.browse.value) == "."
    widget.adversarial.value = 1
    config = widget.config()  # only the changes: the starting model's geometry stays
    assert config == {"preset": "finetune", "train": {"epochs_adversarial": 1}}
    path = tmp_path / "cfg.json"
    path.write_text(__import__("json").dumps(config))
    merged = base_config(None, path, str(run))
    assert merged.geometry == load_config(run).geometry
    assert merged.train.epochs_adversarial == 1
    widget.preset.value = "default"  # scratch is offered again; the choice stays
    assert SCRATCH in widget.init.choice.choices and widget.init.model() == str(run.resolve())


def test_a_folder_that_is_not_a_run_is_what_the_picker_returns(make_napari_viewer, tmp_path):
    from napari_apn._qt.model_picker import DEFAULT_MODEL

    widget = dock(make_napari_viewer(), "Batch predict folder")
    (tmp_path / "not_a_run").mkdir()
    widget.picker.browse.value = tmp_path / "not_a_run"
    assert widget.picker.model() == str(tmp_path / "not_a_run")  # the run fails and says why
    assert widget.picker.choice.value == DEFAULT_MODEL


def test_a_long_status_does_not_widen_the_dock_and_its_tooltip_has_all_of_it(
    make_napari_viewer,
):
    widget = dock(make_napari_viewer(), "Detect landmarks")
    before = widget.native.sizeHint().width()
    text = "failed: /data/" + "very-long-folder-name/" * 60 + "leg.dcm: not a run folder"
    widget.status.value = text
    assert widget.native.sizeHint().width() <= before + 10
    assert widget.status.value == text and widget.status.native.toolTip() == text
    widget.status.value = "x " * 400
    assert len(widget.status.native.text()) <= widget.status.MAX_CHARS


def test_a_job_shows_in_napari_activity_and_is_closed_when_it_ends(make_napari_viewer, qtbot):
    from napari.utils import progress

    viewer = make_napari_viewer()
    viewer.open_sample("napari-apn", "long_leg")
    widget = dock(viewer, "Detect landmarks")
    widget.run()
    qtbot.waitUntil(
        lambda: any(p.desc.startswith("Detect landmarks") for p in progress._all_instances),
        timeout=60000,
    )
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    qtbot.wait(20)
    assert not [p for p in progress._all_instances if p.desc.startswith("Detect landmarks")]
