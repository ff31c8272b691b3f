"""The training job: overfitting, exact resume, clean stop on SIGTERM, DDP, refusals,
restarting a run stopped before its first checkpoint, checkpoints as one unit, NaN."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from apn_core import runs
from apn_core.cli.main import main
from apn_core.errors import FileProblem
from apn_core.presets import get_preset
from apn_core.synth import SynthConfig, write_synthetic_folder
from apn_core.train import distributed
from apn_core.train.job import train
from apn_core.train.loop import TrainingDiverged

CLEAN = SynthConfig(
    spacing_mm=1.0,
    hip_prosthesis_fraction=0,
    knee_prosthesis_fraction=0,
    shield_fraction=0,
    restricted_fraction=0,
)


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
    cfg = _tiny(epochs_pretrain=80, epochs_adversarial=0, lr=5e-3, validate_every=10).replace(
        augment={"enabled": False}, geometry={"height": 128, "width": 48}
    )
    same_images = shutil.copytree(two_images, tmp_path / "same")  # one folder as both is refused
    assert train(two_images, tmp_path / "run", cfg, val_data=same_images) == "done"
    log = runs.read_log(tmp_path / "run")
    assert len(log) == 80
    validated = [r for r in log if "val_n" in r]
    assert [r["epoch"] for r in validated] == [10, 20, 30, 40, 50, 60, 70, 80]
    last = validated[-1]
    assert last["val_n"] == 12 and last["val_present_reported_absent"] == 0  # all 12 reported
    assert last["val_mre"] < 5.0, last
    first = validated[0]  # it learned, it did not start there
    assert first["val_present_reported_absent"] > 6 or first["val_mre"] > 50, first
    assert set(last["val_per_landmark"]) == set(cfg.landmarks.names)


def _weights(run):
    return runs.load_weights(run, "last")


def _losses(run):
    return [
        {k: v for k, v in r.items() if not k.startswith(("time", "images_per", "wall"))}
        for r in runs.read_log(run)
    ]


def _same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_after_interruption_equals_an_uninterrupted_run(four_images, tmp_path):
    cfg = _tiny(epochs_pretrain=2, epochs_adversarial=1, batch_size=2, val_fraction=0.25)
    assert train(four_images, tmp_path / "a", cfg) == "done"  # 3 train images
    cut = cfg.replace(train={"stop_after_steps": 1})  # 1 step per epoch: stop after its only step
    assert train(four_images, tmp_path / "b", cut) == "requested"
    state = runs.load_state(tmp_path / "b", "last")["loop"]
    # epoch 0 fully stepped but not yet validated/logged: the resumed run does that first
    assert (state["epoch"], state["step"], state["global_step"]) == (0, 1, 1)
    assert runs.read_log(tmp_path / "b") == []
    assert train(four_images, tmp_path / "b", cfg, resume=True) == "done"
    assert _same_weights(_weights(tmp_path / "a"), _weights(tmp_path / "b"))
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    assert _losses(tmp_path / "a")[-1]["phase"] == "adversarial"


def test_mid_epoch_resume_is_exact(four_images, tmp_path):
    cfg = _tiny(epochs_pretrain=1, epochs_adversarial=1, batch_size=1, val_fraction=0.25)
    train(four_images, tmp_path / "a", cfg)  # 3 steps/epoch
    train(four_images, tmp_path / "b", cfg.replace(train={"stop_after_steps": 4}))  # in epoch 2
    assert runs.load_state(tmp_path / "b", "last")["loop"]["step"] == 1
    train(four_images, tmp_path / "b", cfg, resume=True)
    assert _same_weights(_weights(tmp_path / "a"), _weights(tmp_path / "b"))
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")


def test_resume_keeps_the_validation_folder_and_the_images_of_the_run(
    four_images, two_images, tmp_path
):
    """A run started with a separate validation folder resumes with it (the printed
    ``--resume`` command does not repeat ``--val``; the run split its training folder anew
    and trained on other images); a training folder that changed is refused."""
    import shutil

    cfg = _tiny(epochs_pretrain=2, epochs_adversarial=0, batch_size=2)
    train(four_images, tmp_path / "a", cfg, val_data=two_images)
    cut = cfg.replace(train={"stop_after_steps": 1})
    assert train(four_images, tmp_path / "b", cut, val_data=two_images) == "requested"
    assert train(four_images, tmp_path / "b", cfg, resume=True) == "done"
    assert _same_weights(_weights(tmp_path / "a"), _weights(tmp_path / "b"))
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    assert runs.read_log(tmp_path / "b")[-1]["val_present"] == 12  # two_images: 2 × 6
    with pytest.raises(FileProblem, match="validates on"):
        train(four_images, tmp_path / "b", cfg, resume=True, val_data=four_images)
    changed = tmp_path / "changed"
    shutil.copytree(four_images, changed)
    assert train(changed, tmp_path / "c", cut) == "requested"
    image = next(p for p in changed.iterdir() if p.suffix in (".dcm", ".tif"))
    rows = [r for r in (changed / "landmarks.csv").read_text().splitlines() if image.name not in r]
    (changed / "landmarks.csv").write_text("\n".join(rows) + "\n")
    image.unlink()
    with pytest.raises(FileProblem, match="differ from those this run started with"):
        train(changed, tmp_path / "c", cfg, resume=True)


def test_run_folder_contents(tiny_run):
    _, run = tiny_run
    config = json.loads((run / "config.json").read_text())
    assert config["preset"] == "tiny" and config["version"]
    assert config["landmarks"]["names"][0] == "femur_right" and config["init"] is None
    assert config["geometry"] == {"height": 256, "width": 96, "stride": 4}
    names = {p.name for p in run.iterdir()}
    assert names == {
        "best.safetensors",
        "last.safetensors",
        "log.jsonl",
        "split.json",
        "config.json",
        "cache",
        ".apn-lock",  # the writer's lock (apn_core.utils.locks), released with the process
    }
    state = runs.load_state(run, "last")  # from the safetensors file itself: nothing pickled
    assert {"optim_generator", "optim_discriminators", "loop"} <= set(state)
    assert state["loop"]["epoch"] == 2 and state["loop"]["log_records"] == 2
    assert runs.read_checkpoint(run / "best.safetensors").state is None  # weights only
    record = runs.read_log(run)[-1]
    expected = {"loss_mse", "loss_d_pose", "loss_d_confidence", "lr", "val_n", "val_correct"}
    expected |= {"val_present", "val_present_reported_absent", "val_absent_reported_present"}
    assert expected <= set(record)
    assert not list(run.glob("*.tmp*")) and not list(run.glob("*.pt"))
    modes = {p.name: p.stat().st_mode & 0o777 for p in run.iterdir() if p.is_file()}
    assert len(set(modes.values())) == 1, modes  # weights as readable as the rest


def test_existing_run_is_never_overwritten_and_resume_needs_a_run(four_images, tmp_path):
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
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileProblem, match="not a folder"):
        train(four_images, tmp_path / "file", cfg)


def test_folder_with_errors_is_refused_before_training(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "landmarks.csv").write_text("image,landmark,x,y\nnope.dcm,femur_right,1,1\n")
    with pytest.raises(FileProblem, match="apn check"):
        train(d, tmp_path / "run", _tiny())
    assert not (tmp_path / "run").exists()


# ----- a run stopped before its first checkpoint ----------------------------------------
def _stopped_while_caching(data, run, cfg, monkeypatch):
    """What Ctrl-C (or a kill) while the images are cached leaves: config and split only."""
    import apn_core.train.job as job

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(job, "build_tensors", interrupted)
        with pytest.raises(KeyboardInterrupt):
            train(data, run, cfg)
    assert runs.is_run(run) and not runs.has_any_checkpoint(run)


def test_run_stopped_before_its_first_checkpoint_starts_again(
    four_images, tmp_path, monkeypatch, caplog
):
    cfg = _tiny(epochs_pretrain=1, epochs_adversarial=0, val_fraction=0.25)
    run = tmp_path / "run"
    _stopped_while_caching(four_images, run, cfg.replace(train={"seed": 3}), monkeypatch)
    (run / "log.jsonl").write_text('{"epoch": 9}\n')  # a stale line must not survive
    with caplog.at_level("WARNING"):
        assert train(four_images, run, cfg) == "done"  # no --resume: the new config
    assert "stopped before its first checkpoint" in caplog.text and "beginning" in caplog.text
    assert runs.load_config(run).train.seed == 0
    assert [r["epoch"] for r in runs.read_log(run)] == [1]
    train(four_images, tmp_path / "ref", cfg)
    assert _same_weights(_weights(run), _weights(tmp_path / "ref"))


def test_resume_of_a_run_without_checkpoint_starts_it_from_the_beginning(
    four_images, tmp_path, monkeypatch, caplog
):
    cfg = _tiny(epochs_pretrain=1, epochs_adversarial=0, val_fraction=0.25)
    run = tmp_path / "run"
    _stopped_while_caching(four_images, run, cfg, monkeypatch)
    with caplog.at_level("WARNING"):
        assert train(four_images, run, get_preset("default"), resume=True) == "done"
    assert "nothing to resume" in caplog.text and "saved configuration" in caplog.text
    assert runs.load_config(run).preset == "tiny"  # its own configuration, not the one passed


# ----- checkpoints: one unit, verified on resume ----------------------------------------
def test_full_disk_during_a_save_keeps_the_previous_checkpoint(four_images, tmp_path, monkeypatch):
    cfg = _tiny(epochs_pretrain=2, epochs_adversarial=1, batch_size=2, val_fraction=0.25)
    train(four_images, tmp_path / "ref", cfg)
    run = tmp_path / "run"
    assert train(four_images, run, cfg.replace(train={"stop_after_steps": 1})) == "requested"
    before = (run / "last.safetensors").read_bytes()
    real_write = runs._write_bytes

    def disk_full(fh, data):
        real_write(fh, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs, "_write_bytes", disk_full)
    with pytest.raises(
        FileProblem, match=r"cannot write the checkpoint \(No space left on device\)"
    ):
        train(four_images, run, cfg, resume=True)
    monkeypatch.undo()
    assert (run / "last.safetensors").read_bytes() == before  # intact
    assert not list(run.glob(".*tmp*"))
    assert train(four_images, run, cfg, resume=True) == "done"  # and it still resumes exactly
    assert _same_weights(_weights(run), _weights(tmp_path / "ref"))
    assert _losses(run) == _losses(tmp_path / "ref")


def test_a_failed_publish_never_pairs_new_weights_with_old_state(tiny_run, tmp_path, monkeypatch):
    """The old format wrote weights, then the state: a failure between the two kept new
    weights beside old state. Now both are one file, renamed into place after fsync."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run[1], run)
    before = (run / "last.safetensors").read_bytes()
    new = {k: torch.zeros_like(v) for k, v in runs.load_weights(run, "last").items()}

    def fail(_fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(runs.os, "fsync", fail)
    with pytest.raises(FileProblem, match="Input/output error"):
        runs.save_checkpoint(run, "last", new, {"loop": {"epoch": 99}}, runs.load_config(run))
    assert (run / "last.safetensors").read_bytes() == before


def test_resume_verifies_the_checkpoint_belongs_to_the_run(four_images, tiny_run, tmp_path):
    import shutil

    cfg = _tiny(epochs_pretrain=2, epochs_adversarial=0, val_fraction=0.25)
    run = tmp_path / "run"
    train(four_images, run, cfg.replace(train={"stop_after_steps": 1}))
    other = tmp_path / "other"  # same model, another learning rate: a different run
    train(four_images, other, cfg.replace(train={"stop_after_steps": 1, "lr": 1e-4}))
    shutil.copy(other / "last.safetensors", run / "last.safetensors")
    with pytest.raises(FileProblem, match=r"different configuration.*train\.lr: 0\.0001"):
        train(four_images, run, cfg, resume=True)
    # a weights-only file (best, an export) is not a checkpoint
    shutil.copy(tiny_run[1] / "best.safetensors", run / "last.safetensors")
    with pytest.raises(FileProblem, match="weights only, no training state"):
        train(four_images, run, cfg, resume=True)
    # the old two-file format cannot be verified: refused, pointing to --init
    train(four_images, tmp_path / "old", cfg.replace(train={"stop_after_steps": 1}))
    torch.save({"loop": {}}, tmp_path / "old" / "last_state.pt")
    with pytest.raises(FileProblem, match=r"last_state\.pt.*--init"):
        train(four_images, tmp_path / "old", cfg, resume=True)


# ----- non-finite values ------------------------------------------------------------------
def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    four_images, tmp_path, monkeypatch
):
    import apn_core.train.loop as loop
    import apn_core.train.steps as steps

    cfg = _tiny(epochs_pretrain=3, epochs_adversarial=0, batch_size=3, val_fraction=0.25)
    run = tmp_path / "run"
    real = steps.heatmap_loss
    calls = {"n": 0}

    def nan_from_the_second_step(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] >= 2 else loss

    monkeypatch.setattr(steps, "heatmap_loss", nan_from_the_second_step)
    before = {}

    real_save = loop.Trainer.save

    def save(self, tag):
        real_save(self, tag)
        before[tag] = (run / f"{tag}.safetensors").read_bytes()

    monkeypatch.setattr(loop.Trainer, "save", save)
    with pytest.raises(TrainingDiverged) as err:
        train(four_images, run, cfg)
    message = str(err.value)
    assert message.startswith(str(run)) and "epoch 2, step 1" in message
    assert "learning rate" in message and "previous checkpoint" in message
    for tag in ("best", "last"):  # untouched since epoch 1, and finite
        assert (run / f"{tag}.safetensors").read_bytes() == before[tag]
        weights = runs.load_weights(run, tag)
        assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    assert runs.load_state(run)["loop"]["epoch"] == 1
    assert len(runs.read_log(run)) == 1


def test_nan_weights_with_a_finite_loss_are_never_saved(four_images, tmp_path, monkeypatch):
    import apn_core.train.loop as loop

    cfg = _tiny(epochs_pretrain=3, epochs_adversarial=0, batch_size=3, val_fraction=0.25)
    run = tmp_path / "run"
    real = loop.Trainer.train_step

    def step_then_corrupt(self, order, epoch, step):
        out = real(self, order, epoch, step)
        if epoch == 1:  # an update that produced a NaN weight (the loss was still finite)
            with torch.no_grad():
                self.nets["generator"].heads[0].bias[0] = float("nan")
        return out

    monkeypatch.setattr(loop.Trainer, "train_step", step_then_corrupt)
    with pytest.raises(
        TrainingDiverged, match=r"after global step 2: the weights became non-finite"
    ):
        train(four_images, run, cfg)
    for tag in ("best", "last"):
        weights = runs.load_weights(run, tag)
        assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    assert runs.load_state(run)["loop"]["epoch"] == 1


def test_huge_learning_rate_is_a_clear_error_with_exit_2(four_images, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", str(four_images), "--out", str(run), "--preset", "tiny", "--lr", "1e30"]
    args += ["--epochs-pretrain", "4", "--epochs-adversarial", "0", "--workers", "0"]
    args += ["--progress", "json"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"apn: error: {run}: training stopped in epoch ")
    assert "loss is not finite" in err and "train.lr = 1e+30" in err
    events = [json.loads(line) for line in out.splitlines()]  # stdout: JSON lines only
    assert events[-1]["event"] == "error" and "not finite" in events[-1]["message"]
    for tag in ("best", "last"):
        weights = runs.load_weights(run, tag)
        assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_non_finite_pixels_are_refused_before_training_naming_the_image(
    four_images, tmp_path, monkeypatch
):
    import apn_core.train.data as data

    real = data.network_input

    def one_nan_pixel(pixels, geometry):
        boxed, box = real(pixels, geometry)
        boxed[5, 5] = np.nan
        return boxed, box

    monkeypatch.setattr(data, "network_input", one_nan_pixel)
    with pytest.raises(FileProblem, match=r"synth_8_000\d\.(dcm|tif): 1 non-finite value"):
        train(four_images, tmp_path / "run", _tiny())
    assert not runs.has_any_checkpoint(tmp_path / "run")


# ----- progress for programs -----------------------------------------------------------
def _apn_train(*args, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "apn_core", "train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_a_loadable_checkpoint(four_images, tmp_path):
    run = tmp_path / "run"
    options = [
        "--preset",
        "tiny",
        "--epochs-pretrain",
        "500",
        "--batch-size",
        "1",
        "--workers",
        "0",
    ]
    proc = _apn_train(str(four_images), "--out", str(run), *options, "--progress", "json")
    for line in proc.stdout:
        if json.loads(line)["event"] == "step":
            proc.send_signal(signal.SIGTERM)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    events = [json.loads(x) for x in out.splitlines()]  # every stdout line is JSON
    assert events[-1]["event"] == "stopped" and events[-1]["reason"] == "SIGTERM"
    assert "stopped by SIGTERM; continue with:" in err and "--resume" in err
    weights = runs.load_weights(run, "last")
    assert any(k.startswith("generator.") for k in weights)
    step = runs.load_state(run, "last")["loop"]["global_step"]
    assert step >= 1
    cfg = runs.load_config(run)
    resumed = train(four_images, run, cfg, resume=True, train_changes={"stop_after_steps": 2})
    assert resumed == "requested"
    assert runs.load_state(run, "last")["loop"]["global_step"] == step + 2


def test_failures_reach_a_json_follower(tiny_run, tmp_path, capsys):
    data, run = tiny_run
    assert main(["train", str(data), "--out", str(run), "--progress", "json"]) == 2
    out, err = capsys.readouterr()
    event = json.loads(out.strip())
    assert event["event"] == "error" and "already holds a run; pass --resume" in event["message"]
    assert err.startswith(f"apn: error: {run}: already holds a run")
    args = ["train", str(data), "--out", str(tmp_path / "x"), "--progress", "json"]
    assert main([*args, "--set", "train.lr=NaN"]) == 2
    event = json.loads(capsys.readouterr().out.strip())
    assert event == {
        "event": "error",
        "message": "--set: train.lr must be a finite number > 0 (got nan)",
    }


def test_json_progress_has_no_nan_or_infinity(capsys):
    from apn_core.train.progress import Progress

    Progress(json_lines=True).event("epoch", a=float("inf"), b=[float("nan"), np.float32(1.5)])
    assert capsys.readouterr().out == '{"event": "epoch", "a": null, "b": [null, 1.5]}\n'


# ----- distributed -----------------------------------------------------------------------
def test_collectives_run_on_the_training_device(monkeypatch):
    """NCCL has no CPU backend: the stop flag must live on the training device (it was a
    CPU tensor), and an NCCL barrier must name the device."""
    seen = []

    def all_reduce(tensor, op=None):
        seen.append(tensor.device)
        raise RuntimeError("stop here")  # a meta tensor cannot be read back

    monkeypatch.setattr(distributed.dist, "all_reduce", all_reduce)
    info = distributed.DistInfo(device=torch.device("meta"), enabled=True)
    with pytest.raises(RuntimeError, match="stop here"):
        distributed.any_rank(True, info)
    assert seen == [torch.device("meta")]
    barriers = []
    monkeypatch.setattr(distributed.dist, "barrier", lambda **kw: barriers.append(kw))
    distributed.barrier(distributed.DistInfo(device=torch.device("cuda", 3), enabled=True))
    distributed.barrier(distributed.DistInfo(device=torch.device("cpu"), enabled=True))
    assert barriers == [{"device_ids": [3]}, {}]
    assert distributed.any_rank(True, distributed.DistInfo()) is True  # no group: no collective


@pytest.mark.slow
def test_two_process_ddp_with_gloo(four_images, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "apn_core", "train", str(four_images), "--out", str(run), "--preset", "tiny"]
    cmd += ["--epochs-pretrain", "1", "--epochs-adversarial", "1", "--batch-size", "1"]
    cmd += ["--val-fraction", "0.25", "--workers", "0", "--device", "cpu", "--progress", "json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    events = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    start = next(e for e in events if e["event"] == "start")
    assert start["steps_per_epoch"] == 1  # 3 training images, batch 1, split over 2 processes
    assert sum(e["event"] == "start" for e in events) == 1  # only rank 0 reports
    log = runs.read_log(run)
    assert [r["phase"] for r in log] == ["pretrain", "adversarial"]
    assert "val_n" in log[-1]


def test_time_budget_stops_with_checkpoint_and_resume_gets_a_new_budget(four_images, tmp_path):
    cfg = _tiny(epochs_pretrain=3, epochs_adversarial=0, max_minutes=1e-6)
    assert train(four_images, tmp_path / "run", cfg) == "time"
    assert runs.load_state(tmp_path / "run", "last")["loop"]["global_step"] == 1
    assert runs.load_config(tmp_path / "run").train.max_minutes == 1e-6
    assert train(four_images, tmp_path / "run", cfg, resume=True) == "done"  # budget reset


def test_resuming_sets_a_calibration_of_the_old_weights_aside(four_images, tmp_path):
    """A calibration fitted between two invocations describes weights that no longer exist."""
    run = tmp_path / "run"
    cfg = _tiny(epochs_pretrain=2, epochs_adversarial=0, max_minutes=1e-6)
    assert train(four_images, run, cfg) == "time"
    (run / runs.CALIBRATION).write_text('{"fitted": "on the old weights"}')
    assert train(four_images, run, cfg, resume=True) == "done"
    assert not (run / runs.CALIBRATION).exists()
    assert (run / runs.STALE_CALIBRATION).read_text() == '{"fitted": "on the old weights"}'


# ----- fine-tuning (--init) ----------------------------------------------------------------
def test_finetune_from_the_bundled_model_starts_from_it_and_records_it(two_images, tmp_path):
    from apn_core.inference.model_store import BUNDLED, BUNDLED_DIR

    run = tmp_path / "ft"
    args = ["train", str(two_images), "--out", str(run), "--init", "default", "--workers", "0"]
    args += ["--lr", "1e-12", "--stop-after-steps", "1", "--val-fraction", "0", "--batch-size", "2"]
    assert main(args) == 0
    config = runs.load_config(run)
    bundled = runs.load_config(BUNDLED_DIR / BUNDLED["default"][0])
    assert config.preset == "finetune" and config.geometry == bundled.geometry
    init = config.init
    assert (init.model, init.source, init.reinitialised) == (
        "default",
        "bundled:default",
        (),  # the bundled model ships all three networks
    )
    assert init.weights_sha256 == BUNDLED["default"][1]
    assert init.weights == str(BUNDLED_DIR / "default" / "model.safetensors")
    source = runs.load_weights(BUNDLED_DIR / "default", "model")
    after = runs.load_weights(run, "last")
    assert after.keys() == {*source, *(k for k in after if k.startswith("pose."))}
    params = {k for k, _ in _named_parameters(config)}
    for key in params & set(source):  # one step at lr 1e-12 (BN statistics aside): the source's
        torch.testing.assert_close(after[key], source[key], atol=1e-9, rtol=0)
    # still in the supervised phase, but the discriminators came trained from the source
    assert runs.read_checkpoint(run / "last.safetensors").meta[runs.TRAINED_KEY] == (
        "confidence,pose"
    )


def _named_parameters(config):
    from apn_core.models import build_networks

    return build_networks(config).named_parameters()


def test_finetune_with_another_landmark_set_renews_only_the_layers_sized_by_it(tiny_run, tmp_path):
    """Four of the six landmarks: the layers whose shape depends on K start fresh, every
    other weight (the whole hourglass, the discriminators' bodies) is the source's."""
    import csv

    data, source_run = tiny_run
    names = ["femur_right", "femur_left", "knee_right", "knee_left"]
    landmarks = tmp_path / "four.json"
    pairs = [["femur_right", "femur_left"], ["knee_right", "knee_left"]]
    landmarks.write_text(json.dumps({"names": names, "mirror_pairs": pairs}))
    folder = tmp_path / "data"
    folder.mkdir()
    for image in data.glob("synth_*"):
        (folder / image.name).symlink_to(image)
    with open(data / "landmarks.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["landmark"] in names]
    with open(folder / "landmarks.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run = tmp_path / "ft"
    args = ["train", str(folder), "--out", str(run), "--init", str(source_run), "--workers", "0"]
    args += ["--landmarks", str(landmarks), "--lr", "1e-12", "--stop-after-steps", "1"]
    assert main(args) == 0
    config = runs.load_config(run)
    assert config.landmarks.names == tuple(names) and config.geometry.height == 256  # the source's
    renewed = set(config.init.reinitialised)
    # one stack: its head; each discriminator: the input conv and the output layer
    heads = {"generator.heads.0", "pose.net.0", "pose.net.14"}
    assert renewed == heads | {"confidence.net.0", "confidence.net.14"}
    assert config.init.source == str(source_run.resolve())
    source, after = runs.load_weights(source_run, "best"), runs.load_weights(run, "last")
    params = {k for k, _ in _named_parameters(config)}
    same = [k for k in params if not any(k.startswith(m + ".") for m in renewed)]
    assert len(same) > 0.9 * len(params)
    for key in same:
        torch.testing.assert_close(after[key], source[key], atol=1e-9, rtol=0)
    for module in renewed:
        weight = f"{module}.weight"
        assert after[weight].shape != source[weight].shape
    # discriminators with renewed layers are untrained again until the adversarial phase
    assert runs.read_checkpoint(run / "last.safetensors").meta[runs.TRAINED_KEY] == ""


def test_finetune_refuses_other_network_sizes_and_unknown_models(tiny_run, tmp_path, capsys):
    data, _ = tiny_run
    out = ["--out", str(tmp_path / "ft")]
    assert (
        main(["train", str(data), *out, "--init", "default", "--set", "generator.channels=32"]) == 2
    )
    err = capsys.readouterr().err
    assert "--init needs the source's generator settings" in err and "model.safetensors" in err
    assert main(["train", str(data), *out, "--init", str(tmp_path / "nothing")]) == 2
    assert "no such run folder, and not a bundled model (default)" in capsys.readouterr().err
    assert not runs.is_run(tmp_path / "ft")


def test_layers_sized_by_the_landmark_count_of_the_default_networks():
    from apn_core.train.finetune import landmark_dependent_modules

    modules = landmark_dependent_modules(get_preset("default"))
    generator = {"generator.heads.0", "generator.heads.1", "generator.merge_heatmaps.0"}
    discriminators = {f"{d}.net.{i}" for d in ("pose", "confidence") for i in (0, 14)}
    assert modules == generator | discriminators


def test_a_finished_run_says_so_where_no_progress_bar_shows(two_images, tmp_path, capsys):
    """On a non-terminal (a job's log file) the bar is off: the last line names the model."""
    run = tmp_path / "run"
    args = ["train", str(two_images), "--out", str(run), "--preset", "tiny", "--workers", "0"]
    assert main([*args, "--epochs-pretrain", "1", "--epochs-adversarial", "0"]) == 0
    err = capsys.readouterr().err
    assert f"done: the model is {run}" in err.splitlines()[-1]


def test_training_on_two_folders_names_images_by_folder(tmp_path, synth_folder):
    """Issue 20: real and synthetic images trained on together (``apn train A B``)."""
    import shutil

    a = tmp_path / "real"
    b = tmp_path / "synth"
    shutil.copytree(synth_folder, a)
    shutil.copytree(synth_folder, b)  # the same image names in both: names must stay apart
    run = tmp_path / "run"
    code = main(
        [
            "train", str(a), str(b), "--out", str(run), "--preset", "tiny",
            "--epochs-pretrain", "1", "--epochs-adversarial", "0", "--val-fraction", "0.25",
            "--workers", "0", "--progress", "json",
        ]
    )  # fmt: skip
    assert code == 0
    split = json.loads((run / "split.json").read_text())
    names = split["train"] + split["val"]
    assert len(names) == len(set(names)) == 12
    assert {n.split("/")[0] for n in names} == {"real", "synth"}
    assert split["data"] == [str(a.resolve()), str(b.resolve())]


@pytest.mark.parametrize("how", ["twice", "val"])
def test_a_training_folder_given_twice_or_as_val_is_refused(two_images, tmp_path, capsys, how):
    """``apn train A A`` (or ``A --val A``) trained each image twice and validated on
    images it trained on, without a word; refused before the run folder exists."""
    run = tmp_path / "run"
    again = [f"{two_images}/"] if how == "twice" else ["--val", str(two_images)]
    args = ["train", str(two_images), *again, "--out", str(run), "--preset", "tiny"]
    assert main([*args, "--epochs-pretrain", "1", "--epochs-adversarial", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("apn: error: ") and str(two_images) in err
    assert ("given twice" if how == "twice" else "both a training folder and the --val") in err
    assert not run.exists()
