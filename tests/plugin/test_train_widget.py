"""Train widget: GUI → config file → a separate `apn train` process, followed through its
JSON lines."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from apn_core import runs
from apn_core.presets import get_preset
from apn_core.synth import SynthConfig, write_synthetic_folder


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    return write_synthetic_folder(out / "data", 4, seed=31, config=SynthConfig(spacing_mm=2.0))


@pytest.fixture
def widget(make_napari_viewer, labelled, tmp_path, monkeypatch):
    from napari_apn._qt.train_widget import TrainWidget

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    w = TrainWidget(make_napari_viewer())
    w.data.value, w.out.value, w.preset.value = labelled, tmp_path / "run", "tiny"
    return w


@pytest.fixture
def folder_checks(monkeypatch):
    """Every labelled-folder check the widget makes: the thread it ran on."""
    from apn_core import dataset

    calls = []
    real = dataset.load_labelled_folder

    def spy(*args, **kwargs):
        calls.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(dataset, "load_labelled_folder", spy)
    return calls


def test_fields_show_the_chosen_presets_own_values(widget):
    tiny = get_preset("tiny").train
    assert (widget.pretrain.value, widget.adversarial.value) == (
        tiny.epochs_pretrain,
        tiny.epochs_adversarial,
    )
    widget.preset.value = "default"
    default = get_preset("default")
    assert widget.pretrain.value == default.train.epochs_pretrain
    assert widget.tolerance.value == default.loss.tolerance_mm
    assert widget.minutes.value == 0  # no time budget


def test_the_config_is_the_preset_with_the_users_changes(widget):
    assert widget.config() == get_preset("tiny").to_dict()  # untouched: exactly the preset
    widget.adversarial.value = 1
    config = widget.config()
    assert config["train"]["epochs_adversarial"] == 1
    assert config["train"]["epochs_pretrain"] == get_preset("tiny").train.epochs_pretrain
    assert config["geometry"] == get_preset("tiny").to_dict()["geometry"]
    command = widget.command("cfg.json")
    assert command[command.index("--config") + 1] == "cfg.json"
    assert not any(a.startswith("--epochs") or a in ("--alpha", "--preset") for a in command)


def test_empty_folder_fields_are_never_the_working_directory(
    widget, make_napari_viewer, folder_checks
):
    from napari_apn._qt.train_widget import TrainWidget

    fresh = TrainWidget(make_napari_viewer())
    assert str(fresh.out.value) in ("", ".")  # FileEdit shows "." for empty
    fresh.start()
    fresh.check()
    assert fresh.worker is None and fresh.process is None
    assert folder_checks == []  # nothing scanned


def test_start_checks_the_folder_once_off_the_ui_thread(widget, qtbot, tmp_path, folder_checks):
    (tmp_path / "empty").mkdir()
    widget.data.value = tmp_path / "empty"  # no labelled images: refused before training
    widget.start()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30000)
    assert folder_checks == [False]
    assert widget.process is None and widget.start_button.enabled
    assert "FAILED" in widget.report.value


def test_check_report_is_shown(widget, qtbot):
    widget.check()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30000)
    assert "OK: ready for training" in widget.report.value


@pytest.fixture
def existing_run(tmp_path):
    """A run folder with a config, two logged epochs and a (dummy) checkpoint."""
    run = tmp_path / "run"
    run.mkdir()
    runs.save_config(run, get_preset("tiny"))
    for epoch in (1, 2):
        runs.append_log(
            run, {"epoch": epoch, "loss_mse": 0.1 / epoch, "val_mre": 9.0, "val_pck@10": 0.5}
        )
    (run / "last.safetensors").write_bytes(b"not weights")
    return run


def test_starting_on_a_folder_that_holds_a_run_shows_the_clis_reason(widget, qtbot, existing_run):
    widget.start()
    qtbot.waitUntil(lambda: widget.process is not None, timeout=30000)
    qtbot.waitUntil(lambda: widget.process is None, timeout=120000)
    assert (
        widget.status.value.startswith("failed: ") and "already holds a run" in widget.status.value
    )
    assert "--resume" in widget.status.value and widget.resume.value is False


def test_resume_reloads_the_curves_from_the_runs_log(widget, qtbot, existing_run):
    widget.resume.value = True
    widget.start()
    qtbot.waitUntil(lambda: widget.process is not None, timeout=30000)
    assert [r["epoch"] for r in widget.curves.records] == [1, 2]
    qtbot.waitUntil(lambda: widget.process is None, timeout=120000)
    assert widget.status.value.startswith("failed: ")  # the dummy checkpoint is refused
    assert [r["epoch"] for r in widget.curves.records] == [1, 2]


def test_tiny_job_runs_to_completion_and_is_offered_in_detect(widget, qtbot, tmp_path):
    from napari_apn._runs import recent_runs

    widget.pretrain.value, widget.adversarial.value = 2, 1
    widget.start()
    qtbot.waitUntil(lambda: widget.process is not None, timeout=30000)
    assert widget.cancel_button.enabled
    written = json.loads(Path(widget._config_file).read_text())  # removed when the run ends
    assert written["train"]["epochs_pretrain"] == 2
    qtbot.waitUntil(lambda: widget.process is None, timeout=180000)
    assert widget.status.value.startswith("finished"), widget.status.value
    assert widget.progress.value == widget.progress.max
    assert [r["epoch"] for r in widget.curves.records] == [1, 2, 3]
    assert str((tmp_path / "run").resolve()) in recent_runs()
    assert len(runs.read_log(tmp_path / "run")) == 3
    assert runs.load_config(tmp_path / "run").geometry == get_preset("tiny").geometry


def test_cancelled_job_leaves_a_resumable_run(widget, qtbot, tmp_path):
    widget.pretrain.value = 2000
    widget.start()
    qtbot.waitUntil(lambda: widget.last_event.get("event") == "step", timeout=120000)
    widget.cancel()
    qtbot.waitUntil(lambda: widget.process is None, timeout=120000)
    assert widget.status.value.startswith("stopped") and widget.resume.value is True
    step = runs.load_state(tmp_path / "run", "last")["loop"]["global_step"]
    assert step >= 1
    assert "--resume" in widget.command()


def test_the_clis_reason_comes_from_its_error_event_else_its_stderr_line():
    from napari_apn._train import cli_error

    stderr = "INFO x\napn: error: runs/a: already holds a run; pass --resume\n"
    assert cli_error(None, stderr) == "runs/a: already holds a run; pass --resume"
    assert cli_error("runs/a: from the event", stderr) == "runs/a: from the event"
    assert cli_error(None, "Traceback ...\nKeyError: 1\n") is None


def test_an_error_event_is_what_the_widget_reports(widget):
    widget._event({"event": "error", "message": "runs/a: already holds a run"})
    assert widget.error == "runs/a: already holds a run"
