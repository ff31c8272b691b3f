"""Train widget: a separate `apn train` process, followed through its JSON lines."""

from __future__ import annotations

import pytest

from apn_core import runs
from apn_core.synth import SynthConfig, write_synthetic_folder


@pytest.fixture
def widget(make_napari_viewer, tmp_path, monkeypatch):
    from napari_apn._qt.train_widget import TrainWidget

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = write_synthetic_folder(tmp_path / "data", 4, seed=31, config=SynthConfig(spacing_mm=2.0))
    w = TrainWidget(make_napari_viewer())
    w.data.value, w.out.value, w.preset.value = data, tmp_path / "run", "tiny"
    return w


def test_check_report_is_shown(widget):
    assert widget.check()
    assert "OK: ready for training" in widget.report.value


def test_tiny_job_runs_to_completion_and_is_offered_in_detect(widget, qtbot, tmp_path):
    from napari_apn._runs import recent_runs

    widget.pretrain.value, widget.adversarial.value = 2, 1
    widget.start()
    assert widget.cancel_button.enabled
    qtbot.waitUntil(lambda: widget.process is None, timeout=180000)
    assert widget.status.value.startswith("finished"), widget.status.value
    assert widget.progress.value == widget.progress.max
    assert [r["epoch"] for r in widget.curves.records] == [1, 2, 3]
    assert str((tmp_path / "run").resolve()) in recent_runs()
    assert len(runs.read_log(tmp_path / "run")) == 3


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
