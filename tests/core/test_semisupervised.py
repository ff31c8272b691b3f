"""Unlabelled images (``apn train --unlabelled``): the generator's adversarial terms on them,
the discriminators untouched by them, recorded in the run, resumable exactly; and the
training step never reads the device back (what keeps a GPU busy)."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
import torch

from apn_core import runs
from apn_core.cli.main import main
from apn_core.presets import get_preset
from apn_core.synth import SynthConfig, write_synthetic_folder
from apn_core.train import batching
from apn_core.train.data import TrainingTensors
from apn_core.train.distributed import DistInfo
from apn_core.train.job import train
from apn_core.train.loop import Trainer
from apn_core.train.progress import Progress

SMALL = {"height": 96, "width": 48, "stride": 4}  # ≥ 2 values per channel in D at batch 1


def _config(**train):
    cfg = get_preset("tiny").replace(
        geometry=SMALL, train={"workers": 0, "epochs_pretrain": 1, "epochs_adversarial": 1, **train}
    )
    return cfg


def _tensors(n: int, k: int = 6, labelled: bool = True, seed: int = 0) -> TrainingTensors:
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 96, 48, generator=gen).half()
    xy = torch.rand(n, k, 2, generator=gen) * torch.tensor([40.0, 88.0]) + 4
    present = torch.full((n, k), labelled)
    if not labelled:
        xy[:] = float("nan")
    return TrainingTensors(
        images,
        xy,
        present.clone(),
        present,
        torch.zeros(n, k, dtype=torch.bool),
        torch.ones(n, 2),
        [f"i{i}" for i in range(n)],
    )


def _trainer(tmp_path, unlabelled: TrainingTensors | None, **loss) -> Trainer:
    cfg = _config(batch_size=2)
    if loss:
        cfg = cfg.replace(loss=loss)
    empty = _tensors(4).subset([])
    trainer = Trainer(
        cfg,
        tmp_path,
        _tensors(4),
        empty,
        torch.device("cpu"),
        DistInfo(),
        Progress(enabled=False),
        unlabelled,
    )
    trainer.decide_batch()
    return trainer


def _adversarial_step(trainer: Trainer) -> dict:
    epoch = trainer.cfg.train.epochs_pretrain  # the first adversarial epoch
    order = trainer._orders(epoch)
    return trainer.train_step(order, epoch, 0)


def _discriminators(trainer: Trainer) -> dict[str, torch.Tensor]:
    nets = trainer.nets
    state = {**nets["pose"].state_dict(), **nets["confidence"].state_dict()}
    grads = {
        f"grad.{n}": p.grad.clone()
        for net in ("pose", "confidence")
        for n, p in nets[net].named_parameters()
    }
    return {k: v.clone() for k, v in state.items()} | grads


def test_unlabelled_images_train_the_generator_but_never_the_discriminators(tmp_path):
    """One adversarial step with and without unlabelled images: the discriminators' weights,
    normalisation statistics and gradients are identical (they learn from labelled images
    only, and the unlabelled terms send them no gradient); the generator differs."""
    plain = _trainer(tmp_path / "a", None)
    mixed = _trainer(tmp_path / "b", _tensors(5, labelled=False, seed=1))
    out_plain, out_mixed = _adversarial_step(plain), _adversarial_step(mixed)
    assert "loss_unlabelled" in out_mixed and "loss_unlabelled" not in out_plain
    assert torch.isfinite(out_mixed["loss_unlabelled"]) and out_mixed["loss_unlabelled"] > 0
    d_plain, d_mixed = _discriminators(plain), _discriminators(mixed)
    assert d_plain.keys() == d_mixed.keys()
    for key in d_plain:
        assert torch.equal(d_plain[key], d_mixed[key]), key
    g_plain = plain.nets["generator"].state_dict()
    g_mixed = mixed.nets["generator"].state_dict()
    assert any(not torch.equal(g_plain[k], g_mixed[k]) for k in g_plain)
    assert all(p.requires_grad for p in mixed.nets.parameters())  # unfrozen afterwards


def test_the_unlabelled_term_sends_no_gradient_to_the_discriminators(tmp_path):
    mixed = _trainer(tmp_path, _tensors(5, labelled=False, seed=1))
    epoch = mixed.cfg.train.epochs_pretrain
    mixed._orders(epoch)
    seen = []
    for net in ("pose", "confidence"):
        for p in mixed.nets[net].parameters():
            p.register_hook(lambda g: seen.append(g))
    out: dict = {}
    term = mixed._unlabelled(epoch, 0, seed=5, adversarial=True, out=out)
    term.backward()
    assert seen == []  # nothing reached a discriminator weight
    g = mixed.nets["generator"]
    assert all(p.grad is not None for p in g.heads.parameters())


def test_flip_consistency_is_an_optional_term(tmp_path):
    mixed = _trainer(tmp_path, _tensors(5, labelled=False, seed=1), consistency_weight=1.0)
    out = _adversarial_step(mixed)
    assert {"loss_unlabelled", "loss_consistency"} <= set(out)
    assert torch.isfinite(out["loss_consistency"])
    # in pre-training too (it needs no discriminator), without the adversarial term
    order = mixed._orders(0)
    out = mixed.train_step(order, 0, 0)
    assert "loss_consistency" in out and "loss_unlabelled" not in out


@contextmanager
def _no_read_back():
    """Fail on anything that would make the host wait for a GPU: reading a tensor's value
    (``item``, ``tolist``, ``bool``, ``float``, ``int``)."""
    names = ("item", "tolist", "__bool__", "__float__", "__int__")
    saved = {n: getattr(torch.Tensor, n) for n in names}

    def refuse(self, *a, **k):
        raise AssertionError("a tensor's value was read inside the training step")

    for n in names:
        setattr(torch.Tensor, n, refuse)
    try:
        yield saved
    finally:
        for n, f in saved.items():
            setattr(torch.Tensor, n, f)


def test_a_training_step_reads_nothing_back_from_the_device(tmp_path):
    """With the GPU's settings (no per-step checks), a pre-training and an adversarial
    step with unlabelled images and every augmentation read no tensor value — on a GPU
    each would stall the host until the device caught up. (The optimizers' own CPU
    bookkeeping, which reads its step counter on a CPU only, is let through.)"""
    trainer = _trainer(tmp_path, _tensors(5, labelled=False, seed=1), consistency_weight=0.5)
    trainer.eager_checks = False
    for opt in (trainer.opt_g, trainer.opt_d):
        real = opt.step

        def step(*a, real=real, **k):
            with _allow():
                return real(*a, **k)

        opt.step = step
    with _no_read_back() as saved:
        _allow.saved = saved
        for epoch in (0, trainer.cfg.train.epochs_pretrain):
            order = trainer._orders(epoch)
            out = trainer.train_step(order, epoch, 0)
    assert "loss_unlabelled" in out and all(v.dim() == 0 for v in out.values())


@contextmanager
def _allow():
    current = {n: getattr(torch.Tensor, n) for n in _allow.saved}
    for n, f in _allow.saved.items():
        setattr(torch.Tensor, n, f)
    try:
        yield
    finally:
        for n, f in current.items():
            setattr(torch.Tensor, n, f)


# ----- apn train --unlabelled ----------------------------------------------------------------
@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("semi")
    clean = SynthConfig(spacing_mm=2.0, hip_prosthesis_fraction=0, knee_prosthesis_fraction=0)
    data = write_synthetic_folder(root / "data", 3, seed=2, config=clean)
    pool = write_synthetic_folder(root / "pool", 3, seed=3, config=clean)
    (pool / "landmarks.csv").unlink()  # images only
    (pool / "broken.dcm").write_bytes(b"not a dicom")
    return data, pool


def _cli(data, run, *extra):
    args = ["train", str(data), "--out", str(run), "--preset", "tiny", "--input", "96x48"]
    args += ["--epochs-pretrain", "1", "--epochs-adversarial", "2", "--workers", "0"]
    args += ["--batch-size", "1", "--val-fraction", "0.34", *extra]
    return main(args)


def test_apn_train_with_unlabelled_images_logs_and_records_them(folders, tmp_path, capsys):
    data, pool = folders
    run = tmp_path / "run"
    assert _cli(data, run, "--unlabelled", str(pool), "--progress", "json") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    start = next(e for e in events if e["event"] == "start")
    assert start["unlabelled_images"] == 3
    notes = [e["message"] for e in events if e["event"] == "note"]
    assert any("broken.dcm" in n and "skipped" in n for n in notes)
    log = runs.read_log(run)
    assert [r["phase"] for r in log] == ["pretrain", "adversarial", "adversarial"]
    assert "loss_unlabelled" not in log[0] and all("loss_unlabelled" in r for r in log[1:])
    recorded = runs.read_split(run)["unlabelled"]
    assert recorded["folder"] == str(pool.resolve()) and recorded["count"] == 3
    assert len(recorded["images"]) == 3 and recorded["skipped"][0]["image"].endswith("broken.dcm")


def test_a_run_with_unlabelled_images_resumes_exactly(folders, tmp_path):
    data, pool = folders
    cfg = _config(batch_size=1, val_fraction=0.34, epochs_adversarial=2)
    train(data, tmp_path / "a", cfg, unlabelled=pool)
    cut = cfg.replace(train={"stop_after_steps": 3})  # in the first adversarial epoch
    assert train(data, tmp_path / "b", cut, unlabelled=pool) == "requested"
    assert train(data, tmp_path / "b", cfg, resume=True) == "done"  # its recorded images
    a, b = runs.load_weights(tmp_path / "a", "last"), runs.load_weights(tmp_path / "b", "last")
    assert all(torch.equal(a[k], b[k]) for k in a)

    def losses(run):
        return [{k: v for k, v in r.items() if k.startswith("loss")} for r in runs.read_log(run)]

    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    with pytest.raises(Exception, match="trained with the unlabelled images of"):
        train(data, tmp_path / "b", cfg, resume=True, unlabelled=tmp_path)


def test_unlabelled_images_with_fine_tuning(folders, tmp_path, capsys):
    """What the label-efficiency benchmark runs: --init default --preset finetune."""
    data, pool = folders
    run = tmp_path / "ft"
    args = ["train", str(data), "--out", str(run), "--init", "default", "--preset", "finetune"]
    args += ["--unlabelled", str(pool), "--stop-after-steps", "2", "--workers", "0"]
    args += ["--epochs-pretrain", "0", "--epochs-adversarial", "3", "--val-fraction", "0"]
    assert main(args) == 0
    config = runs.load_config(run)
    assert config.init.model == "default" and runs.read_split(run)["unlabelled"]["count"] == 3
    state = runs.load_state(run)["loop"]
    assert state["global_step"] == 2 and set(state["epoch_sums"]) >= {"loss_unlabelled"}


def test_steps_per_epoch_and_the_learning_rate_rule():
    assert batching.lr_scale("sqrt", 128, 8) == 4.0
    assert batching.lr_scale("linear", 32, 8) == 4.0 and batching.lr_scale("none", 64, 8) == 1
    assert batching.warmup(4.0, 0, 10) == pytest.approx((1 + 3 * 0.1) / 4)
    assert batching.warmup(4.0, 9, 10) == 1.0 and batching.warmup(1.0, 0, 10) == 1.0
    order = batching.epoch_order(10, 25, seed=1, epoch=2)
    assert len(order) == 30 and all(
        sorted(order[i : i + 10].tolist()) == list(range(10)) for i in (0, 10, 20)
    )
    first = torch.randperm(10, generator=torch.Generator().manual_seed(1 * 100003 + 2))
    assert torch.equal(order[:10], first)  # a CPU run's data order is what it was


def test_every_allowed_seed_gives_a_valid_step_seed():
    """``train.seed`` may be up to 2³¹ − 1; the per-step seed derived from it overflowed
    torch's 64-bit seed ("Overflow when unpacking long long") from about 1.9 million on."""
    from apn_core.train.steps import step_seed

    for seed in (0, 2_000_000, 2**31 - 1):
        value = step_seed(seed, epoch=10_000, step=50_000, rank=7)
        torch.manual_seed(value)
        torch.Generator().manual_seed(value)
    assert step_seed(0, 1, 2, 0) == ((0 * 1_000_003 + 1) * 100_003 + 2) * 97  # small: unchanged
