"""Who else writes a run folder, and what a repeated command means: a second
``apn train --resume`` on a folder in use is refused at once, the very command that
started a run plus ``--resume`` continues it, and training sizes its threads to the idle
cores. (Hardening round 2, issue 19.)"""

from __future__ import annotations

import pytest
import torch

from apn_core import runs
from apn_core.cli.main import main
from apn_core.inference import threads
from apn_core.presets import get_preset
from apn_core.synth import SynthConfig, write_synthetic_folder
from apn_core.train import job
from apn_core.utils.locks import folder_lock


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_synthetic_folder(
        tmp_path_factory.mktemp("run_folders") / "data",
        3,
        seed=8,
        config=SynthConfig(spacing_mm=2.0),
    )


TINY = ["--preset", "tiny", "--workers", "0", "--epochs-adversarial", "0", "--val-fraction", "0"]


def test_a_second_writer_of_a_run_folder_is_refused_at_once(data, tmp_path, capsys, deadline):
    """Two concurrent `apn train RUN --resume` both exited 0 and logged every epoch twice."""
    run = tmp_path / "run"
    run.mkdir()
    runs.save_config(run, get_preset("tiny"))
    with folder_lock(run, "run folder"):  # another apn process, as the kernel sees it
        deadline(20)
        code = main(["train", str(data), "--out", str(run), "--resume", "--stop-after-steps", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"apn: error: {run}: another apn process" in err and "writing this run folder" in err
    assert not (run / "log.jsonl").exists()


def test_the_same_command_with_resume_continues_the_run(data, tmp_path, capsys):
    run = tmp_path / "run"
    command = [
        "train", str(data), "--out", str(run), *TINY,
        "--input", "256x96", "--lr", "0.002", "--sigma", "1.5",
        "--set", "augment.rotation_deg=3", "--stop-after-steps", "1",
    ]  # fmt: skip
    assert main(command) == 0
    capsys.readouterr()
    assert main([*command, "--resume"]) == 0, capsys.readouterr().err
    assert runs.load_config(run).train.lr == 0.002
    changed = [c if c != "0.002" else "0.003" for c in command]
    assert main([*changed, "--resume"]) == 2
    assert "cannot change lr when resuming" in capsys.readouterr().err


def test_training_threads_are_the_idle_cores(data, tmp_path, monkeypatch):
    """Beside one busy process on 2 cores, tiny epochs took 5-250× longer with torch's
    default pool than with one thread; predict already sized its pool to the idle cores."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "busy_cores", lambda *a, **k: 3.0)  # one core idle
    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(job, "plan_run", stop)
    with pytest.raises(Stop):
        job.train(data, tmp_path / "run", get_preset("tiny"), device="cpu")
    assert chosen == [1]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice wins
    with pytest.raises(Stop):
        job.train(data, tmp_path / "run", get_preset("tiny"), device="cpu")
    assert chosen == [1, 3]
