"""``apn train`` as a function: validate the folder, split, cache, train, report.

The same function runs in one process or under ``torchrun`` (each rank calls it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from apn_core import __version__, runs
from apn_core.config import RunConfig
from apn_core.dataset import load_labelled_folder
from apn_core.errors import FileProblem
from apn_core.train.data import build_tensors, split_indices
from apn_core.train.distributed import barrier, init_distributed, shutdown
from apn_core.train.loop import Trainer
from apn_core.train.progress import Progress

log = logging.getLogger(__name__)
RESUMABLE_CHANGES = {"max_minutes", "workers", "stop_after_steps", "epochs_adversarial"}
PER_INVOCATION = {"max_minutes": None, "stop_after_steps": None}  # reset on --resume unless given


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise FileProblem("--device", "CUDA was asked for but no GPU is available to torch")
    return torch.device(name)


def prepare_config(run: Path, config: RunConfig, resume: bool, train_changes: dict) -> RunConfig:
    """The config a run trains with; refuses to reuse a run folder unless resuming."""
    exists = (run / runs.CONFIG).exists()
    if resume:
        if not runs.weights_path(run, "last").exists():
            raise FileProblem(
                run, "nothing to resume (no last.safetensors); start a new run without --resume"
            )
        saved = runs.load_config(run)
        refused = set(train_changes) - RESUMABLE_CHANGES
        if refused:
            raise FileProblem(run, f"cannot change {', '.join(sorted(refused))} when resuming")
        return saved.replace(train={**PER_INVOCATION, **train_changes})
    if exists:
        raise FileProblem(
            run, "already holds a run; pass --resume to continue it, or choose a new --out"
        )
    config = config.replace(train=train_changes) if train_changes else config
    config.version = __version__
    return config


def train(
    data: str | Path,
    run: str | Path,
    config: RunConfig,
    *,
    resume: bool = False,
    train_changes: dict | None = None,
    val_data: str | Path | None = None,
    spacing=None,
    json_progress: bool = False,
    device: str = "auto",
) -> str:
    """Train (or resume) a run; returns why it ended (see :meth:`Trainer.fit`)."""
    run = Path(run)
    torch_device = resolve_device(device)
    dist = init_distributed(torch_device)
    try:
        if torch_device.type == "cuda":
            torch_device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(torch_device)
            torch.backends.cudnn.benchmark = True
        else:
            torch.use_deterministic_algorithms(True)
            threads = os.environ.get("OMP_NUM_THREADS")  # the user's choice wins
            torch.set_num_threads(
                int(threads) if threads else max(1, (os.cpu_count() or 1) // dist.world)
            )
        config = prepare_config(run, config, resume, train_changes or {})
        barrier(dist)  # every rank checks the run folder before rank 0 writes into it
        progress = Progress(json_lines=json_progress, enabled=dist.is_main)
        folder = load_labelled_folder(data, config.landmarks, spacing)
        folder.raise_for_errors()
        if val_data is not None:
            val_folder = load_labelled_folder(val_data, config.landmarks, spacing)
            val_folder.raise_for_errors()
            train_items, val_items = folder.items, val_folder.items
        else:
            tr, va = split_indices(len(folder.items), config.train.val_fraction, config.train.seed)
            train_items, val_items = [folder.items[i] for i in tr], [folder.items[i] for i in va]
        if dist.is_main:
            run.mkdir(parents=True, exist_ok=True)
            if not resume:
                runs.save_config(run, config)
                split = {"train": [i.labels.image for i in train_items], "val": [i.labels.image for i in val_items],
                         "data": str(Path(data).resolve()), "val_data": str(Path(val_data).resolve()) if val_data else None}  # fmt: skip
                runs.write_split(run, split)
        barrier(dist)
        cache = runs.cache_dir(run)
        workers = config.train.workers

        def caching(done: int, total: int) -> None:
            progress.event("cache", done=done, total=total)

        if dist.is_main:
            train_t = build_tensors(train_items, config.geometry, cache, workers, caching)
            val_t = (
                build_tensors(val_items, config.geometry, cache, workers)
                if val_items
                else train_t.subset([])
            )
        barrier(dist)
        if not dist.is_main:
            train_t = build_tensors(train_items, config.geometry, cache, 0)
            val_t = train_t.subset([])
        trainer = Trainer(config, run, train_t, val_t, torch_device, dist, progress)
        if resume:
            trainer.resume()
        return trainer.fit()
    finally:
        shutdown(dist)
