"""The training job: overfitting, exact resume, clean stop on SIGTERM, DDP, refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from apn_core import runs
from apn_core.errors import FileProblem
from apn_core.presets import get_preset
from apn_core.synth import SynthConfig, write_synthetic_folder
from apn_core.train.job import train

CLEAN = SynthConfig(spacing_mm=1.0, hip_prosthesis_fraction=0, knee_prosthesis_fraction=0, shield_fraction=0,
                    restricted_fraction=0)  # fmt: skip


@pytest.fixture(scope="module")
def two_images(tmp_path_factory):
    return write_synthetic_folder(tmp_path_factory.mktemp("two") / "data", 2, seed=5, config=CLEAN)


@pytest.fixture(scope="module")
def four_images(tmp_path_factory):
    cfg = SynthConfig(spacing_mm=2.0, hip_prosthesis_fraction=0.5, restricted_fraction=0.3)
    return write_synthetic_folder(tmp_path_factory.mktemp("four") / "data", 4, seed=8, config=cfg)


def _tiny(**train):
    return get_preset("tiny").replace(train={"workers": 0, **train})


@pytest.mark.slow
def test_tiny_model_overfits_two_images_below_5_mm(two_images, tmp_path):
    cfg = _tiny(epochs_pretrain=100, epochs_adversarial=0, lr=5e-3).replace(
        augment={"enabled": False}
    )
    assert train(two_images, tmp_path / "run", cfg, val_data=two_images) == "done"
    log = runs.read_log(tmp_path / "run")
    assert len(log) == 100
    assert log[-1]["val_mre"] < 5.0, log[-1]
    assert log[-1]["val_mre"] < log[10]["val_mre"]  # it learned, it did not start there
    assert set(log[-1]["val_per_landmark"]) == set(cfg.landmarks.names)


def _weights(run):
    return runs.load_weights(run, "last")


def _losses(run):
    return [
        {k: v for k, v in r.items() if not k.startswith(("time", "images_per"))}
        for r in runs.read_log(run)
    ]


def test_resume_after_interruption_equals_an_uninterrupted_run(four_images, tmp_path):
    cfg = _tiny(
        epochs_pretrain=2, epochs_adversarial=1, batch_size=2, val_fraction=0.25
    )  # 3 train images
    assert train(four_images, tmp_path / "a", cfg) == "done"
    cut = cfg.replace(train={"stop_after_steps": 1})  # 1 step per epoch: stop after its only step
    assert train(four_images, tmp_path / "b", cut) == "requested"
    state = runs.load_state(tmp_path / "b", "last")["loop"]
    # epoch 0 fully stepped but not yet validated/logged: the resumed run does that first
    assert (state["epoch"], state["step"], state["global_step"]) == (0, 1, 1)
    assert runs.read_log(tmp_path / "b") == []
    assert train(four_images, tmp_path / "b", cfg, resume=True) == "done"
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    assert _losses(tmp_path / "a")[-1]["phase"] == "adversarial"


def test_mid_epoch_resume_is_exact(four_images, tmp_path):
    cfg = _tiny(
        epochs_pretrain=1, epochs_adversarial=1, batch_size=1, val_fraction=0.25
    )  # 3 steps/epoch
    train(four_images, tmp_path / "a", cfg)
    train(four_images, tmp_path / "b", cfg.replace(train={"stop_after_steps": 4}))  # inside epoch 2
    assert runs.load_state(tmp_path / "b", "last")["loop"]["step"] == 1
    train(four_images, tmp_path / "b", cfg, resume=True)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")


def test_run_folder_contents(four_images, tmp_path):
    train(four_images, tmp_path / "run", _tiny(epochs_pretrain=1, epochs_adversarial=1))
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert (
        config["preset"] == "tiny"
        and config["version"]
        and config["landmarks"]["names"][0] == "femur_right"
    )
    assert config["geometry"] == {"height": 256, "width": 96, "stride": 4}
    for name in (
        "best.safetensors",
        "best_state.pt",
        "last.safetensors",
        "last_state.pt",
        "log.jsonl",
        "split.json",
    ):
        assert (run / name).exists(), name
    state = torch.load(run / "last_state.pt", weights_only=True)  # loading never runs code
    assert {"optim_generator", "optim_discriminators", "loop"} <= set(state)
    record = runs.read_log(run)[-1]
    assert {
        "loss_mse",
        "loss_d_pose",
        "loss_d_confidence",
        "val_mre",
        "val_pck@10",
        "val_pck@20",
        "lr",
    } <= set(record)
    assert not list(run.glob("*.tmp*"))  # atomic writes leave no temporaries


def test_existing_run_is_never_overwritten_and_resume_needs_a_checkpoint(four_images, tmp_path):
    cfg = _tiny(epochs_pretrain=1, epochs_adversarial=0)
    train(four_images, tmp_path / "run", cfg)
    before = (tmp_path / "run" / "last.safetensors").read_bytes()
    with pytest.raises(FileProblem, match="already holds a run"):
        train(four_images, tmp_path / "run", cfg)
    assert (tmp_path / "run" / "last.safetensors").read_bytes() == before
    with pytest.raises(FileProblem, match="nothing to resume"):
        train(four_images, tmp_path / "new", cfg, resume=True)
    with pytest.raises(FileProblem, match="cannot change lr"):
        train(four_images, tmp_path / "run", cfg, resume=True, train_changes={"lr": 1.0})


def test_folder_with_errors_is_refused_before_training(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "landmarks.csv").write_text("image,landmark,x,y\nnope.dcm,femur_right,1,1\n")
    with pytest.raises(FileProblem, match="apn check"):
        train(d, tmp_path / "run", _tiny())
    assert not (tmp_path / "run").exists()


def _apn_train(*args, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "apn_core", "train", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)  # fmt: skip


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_a_loadable_checkpoint(four_images, tmp_path):
    run = tmp_path / "run"
    proc = _apn_train(str(four_images), "--out", str(run), "--preset", "tiny", "--epochs-pretrain", "500",
                      "--batch-size", "1", "--workers", "0", "--progress", "json")  # fmt: skip
    for line in proc.stdout:
        if json.loads(line)["event"] == "step":
            proc.send_signal(signal.SIGTERM)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    events = [json.loads(x)["event"] for x in out.splitlines() if x.startswith("{")]
    assert "stopped" in events and "--resume" in out
    weights = runs.load_weights(run, "last")
    assert any(k.startswith("generator.") for k in weights)
    step = runs.load_state(run, "last")["loop"]["global_step"]
    assert step >= 1
    cfg = runs.load_config(run)
    assert (
        train(four_images, run, cfg, resume=True, train_changes={"stop_after_steps": 2})
        == "requested"
    )
    assert runs.load_state(run, "last")["loop"]["global_step"] == step + 2


@pytest.mark.slow
def test_two_process_ddp_with_gloo(four_images, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "apn_core",
           "train", str(four_images), "--out", str(run), "--preset", "tiny", "--epochs-pretrain", "1",
           "--epochs-adversarial", "1", "--batch-size", "1", "--val-fraction", "0.25", "--workers", "0",
           "--device", "cpu", "--progress", "json"]  # fmt: skip
    res = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert res.returncode == 0, res.stderr[-3000:]
    events = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    start = next(e for e in events if e["event"] == "start")
    assert start["steps_per_epoch"] == 1  # 3 training images, batch 1, split over 2 processes
    assert sum(e["event"] == "start" for e in events) == 1  # only rank 0 reports
    log = runs.read_log(run)
    assert [r["phase"] for r in log] == ["pretrain", "adversarial"]
    assert "val_mre" in log[-1]


def test_time_budget_stops_with_checkpoint_and_resume_gets_a_new_budget(four_images, tmp_path):
    cfg = _tiny(epochs_pretrain=3, epochs_adversarial=0, max_minutes=1e-6)
    assert train(four_images, tmp_path / "run", cfg) == "time"
    assert runs.load_state(tmp_path / "run", "last")["loop"]["global_step"] == 1
    assert runs.load_config(tmp_path / "run").train.max_minutes == 1e-6
    assert (
        train(four_images, tmp_path / "run", cfg, resume=True) == "done"
    )  # budget reset on resume
