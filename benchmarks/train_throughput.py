"""Training throughput per phase: images/s of the real training step (augmentation, target
heatmaps, generator, discriminators, optimizers — :meth:`Trainer.train_step`, with the
loop's per-step learning-rate setting and its read-back every 25 steps) on random cached
tensors in memory (no files: speed does not depend on the pixels), for presets × batch
sizes × ``torch.compile`` on the chosen device.

    python benchmarks/train_throughput.py --device cpu --steps 5            # quick, on a CPU
    python benchmarks/train_throughput.py --device cuda --json out.json     # the GPU matrix

A run is ``PRESET:BATCH:COMPILE`` (BATCH ``auto`` = the device's automatic batch;
COMPILE ``on``/``off``); ``--runs`` replaces the device's default list. Runs past
``--budget-s`` are skipped (reported). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

# compile last: its warm-up (compilation) is the longest; --budget-s may skip it
GPU_RUNS = [
    "default:auto:off",
    "default:32:off",
    "default:64:off",
    "default:256:off",
    "seed:auto:off",
    "seed:16:off",
    "default:128:on",
]
CPU_RUNS = ["default:auto:off", "seed:2:off"]


def synthetic_data(config, n: int, seed: int = 0):
    """``n`` random letterboxed images with six landmarks inside (spacing 0.5 mm/px)."""
    from apn_core.train.data import TrainingTensors

    g = config.geometry
    k = len(config.landmarks)
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, g.height, g.width, generator=gen).half()
    xy = torch.rand(n, k, 2, generator=gen) * torch.tensor([g.width - 9.0, g.height - 9.0]) + 4
    present = torch.ones(n, k, dtype=torch.bool)
    return TrainingTensors(
        images,
        xy,
        present.clone(),
        present,
        torch.zeros(n, k, dtype=torch.bool),
        torch.full((n, 2), 0.5),
        [f"img{i}" for i in range(n)],
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_steps(trainer, epoch: int, order: torch.Tensor, steps: range, window: list) -> None:
    """What the training loop does per step: set the learning rates, step, keep the loss on
    the device; read the losses back every ``SYNC_EVERY`` steps."""
    from apn_core.train.loop import SYNC_EVERY

    for i in steps:
        lr_g, lr_d = trainer.learning_rates(epoch, i)
        for group in trainer.opt_g.param_groups:
            group["lr"] = lr_g
        for group in trainer.opt_d.param_groups:
            group["lr"] = lr_d
        out = trainer.train_step(order, epoch, i % trainer.steps)
        window.append(out["loss"])
        if (i + 1) % SYNC_EVERY == 0:
            torch.stack(window).tolist()
            window.clear()


def measure(spec: str, device: torch.device, steps: int, warmup: int, augment: bool) -> dict:
    """One run: images/s per phase, peak GPU memory, warm-up (compile) seconds."""
    from apn_core.presets import get_preset
    from apn_core.train.distributed import DistInfo
    from apn_core.train.loop import Trainer
    from apn_core.train.progress import Progress

    preset, batch, compile_ = spec.split(":")
    cfg = get_preset(preset)
    changes = {"workers": 0, "compile": compile_ == "on", "epochs_adversarial": 1}
    if batch != "auto":
        changes.update(batch_size=int(batch), gpu_batch_size=int(batch))
    cfg = cfg.replace(train=changes, augment={"enabled": augment})
    n = 512 if batch == "auto" else max(256, 4 * int(batch))
    data = synthetic_data(cfg, n)
    with tempfile.TemporaryDirectory() as run:
        trainer = Trainer(
            cfg,
            Path(run),
            data,
            data.subset([]),
            device,
            DistInfo(device=device),
            Progress(enabled=False),
        )
        trainer.decide_batch()
        row = {"run": spec, "preset": preset, "compile": compile_ == "on", "batch": trainer.batch}
        for phase, epoch in (("pretrain", 0), ("adversarial", cfg.train.epochs_pretrain)):
            order = trainer._orders(epoch)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            window: list[torch.Tensor] = []

            t0 = time.perf_counter()
            run_steps(trainer, epoch, order, range(warmup), window)
            sync(device)
            t1 = time.perf_counter()
            run_steps(trainer, epoch, order, range(warmup, warmup + steps), window)
            sync(device)
            t2 = time.perf_counter()
            row[f"{phase}_img_s"] = steps * trainer.batch / (t2 - t1)
            row[f"{phase}_warmup_s"] = t1 - t0
            if device.type == "cuda":
                row[f"{phase}_peak_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
        del trainer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| preset | batch | compile | pre-training img/s | adversarial img/s | peak GPU memory (GB, pre / adv) | warm-up s (pre / adv) |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['run']} | | | skipped: {r['skipped']} | | | |")
            continue
        mem = (
            f"{r['pretrain_peak_gb']:.2f} / {r['adversarial_peak_gb']:.2f}"
            if "pretrain_peak_gb" in r
            else "–"
        )
        lines.append(
            f"| {r['preset']} | {r['batch']}{' (auto)' if ':auto:' in r['run'] else ''} | "
            f"{'on' if r['compile'] else 'off'} | {r['pretrain_img_s']:.1f} | "
            f"{r['adversarial_img_s']:.1f} | {mem} | "
            f"{r['pretrain_warmup_s']:.1f} / {r['adversarial_warmup_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--runs", nargs="+", metavar="PRESET:BATCH:COMPILE")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per phase")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first")
    parser.add_argument("--budget-s", type=float, default=math.inf, help="skip runs after this")
    parser.add_argument("--no-augment", action="store_true", help="measure without augmentation")
    parser.add_argument("--json", type=Path, metavar="OUT")
    args = parser.parse_args()
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    gpu = device.type == "cuda"
    if gpu:
        torch.backends.cudnn.benchmark = True
    runs = args.runs or (GPU_RUNS if gpu else CPU_RUNS)
    steps = args.steps or (30 if gpu else 5)
    warmup = args.warmup if args.warmup is not None else (10 if gpu else 1)
    name = torch.cuda.get_device_name(device) if gpu else f"{platform.processor() or 'CPU'}"
    threads = torch.get_num_threads()
    print(
        f"device: {name} ({device}), torch {torch.__version__}, {threads} CPU threads; "
        f"{steps} timed steps after {warmup} warm-up per phase; augmentation "
        f"{'off' if args.no_augment else 'on'}",
        flush=True,
    )
    rows, start = [], time.perf_counter()
    for spec in runs:
        if time.perf_counter() - start > args.budget_s:
            rows.append({"run": spec, "skipped": "time budget"})
            continue
        try:
            row = measure(spec, device, steps, warmup, not args.no_augment)
        except Exception as exc:  # report and go on: one failing run must not hide the rest
            row = {"run": spec, "skipped": f"{type(exc).__name__}: {str(exc)[:160]}"}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(
            json.dumps({"device": name, "torch": torch.__version__, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
