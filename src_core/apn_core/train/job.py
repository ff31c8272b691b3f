"""``apn train`` as a function: validate the folder, split, cache, train, report.

The same function runs in one process or under ``torchrun`` (each rank calls it).

What a run folder ``--out`` may be, and what happens:

- new or empty of runs → a new run;
- a run with a checkpoint → refused without ``--resume`` (never overwritten); with
  ``--resume`` it continues from ``last`` (verified to belong to its ``config.json``);
- a run stopped before its first checkpoint (only ``config.json``, ``split.json``, the
  image cache) → started again from the beginning, with a note saying so: without
  ``--resume`` with the configuration now given, with ``--resume`` with its saved one (and
  its recorded ``--init`` source, which must be unchanged).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from apn_core import __version__, runs
from apn_core.config import RunConfig
from apn_core.dataset import (
    check_training_folders,
    find_images,
    load_labelled_folder,
    merged_items,
)
from apn_core.errors import FileProblem
from apn_core.inference.threads import training_threads
from apn_core.models import trust, weights_of
from apn_core.train import finetune
from apn_core.train.data import build_tensors, build_unlabelled, split_indices
from apn_core.train.distributed import barrier, init_distributed, shutdown
from apn_core.train.loop import Trainer
from apn_core.train.progress import Progress
from apn_core.utils.locks import folder_lock

log = logging.getLogger(__name__)
RESUMABLE_CHANGES = {"max_minutes", "workers", "stop_after_steps", "epochs_adversarial"}
_UNSET = object()
PER_INVOCATION = {"max_minutes": None, "stop_after_steps": None}  # reset on --resume unless given


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise FileProblem("--device", "CUDA was asked for but no GPU is available to torch")
    if name not in ("cpu", "cuda"):
        raise FileProblem("--device", f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


@dataclass
class Plan:
    """What this invocation does with the run folder.

    config: the configuration to train with. resume: continue from ``last``. restart: the
    folder holds a run stopped before its first checkpoint, started again. init_model /
    init_sha256: where the initial weights come from (``--init``, or the recorded source
    when restarting a fine-tuned run). note: said to the user before training.
    """

    config: RunConfig
    resume: bool = False
    restart: bool = False
    init_model: str | None = None
    init_sha256: str | None = None
    note: str = ""


def plan_run(
    run: Path, config: RunConfig, resume: bool, train_changes: dict, init: str | None = None
) -> Plan:
    """Decide new / resume / restart for ``run``; refuses to overwrite a trained run."""
    if run.exists() and not run.is_dir():
        raise FileProblem(run, "exists and is not a folder; choose another --out")
    if resume:
        if init is not None:
            raise FileProblem(
                "--init", "cannot be combined with --resume (a run continues from its own weights)"
            )
        if not runs.is_run(run):
            raise FileProblem(
                run, "nothing to resume (no run here); start a new run without --resume"
            )
        saved = runs.load_config(run)
        train_changes = {  # the value the run already has is no change
            k: v
            for k, v in train_changes.items()
            if k in RESUMABLE_CHANGES or getattr(saved.train, k, _UNSET) != v
        }
        refused = set(train_changes) - RESUMABLE_CHANGES
        if refused:
            raise FileProblem(run, f"cannot change {', '.join(sorted(refused))} when resuming")
        config = saved.replace(train={**PER_INVOCATION, **train_changes})
        if runs.has_any_checkpoint(run):
            return Plan(config, resume=True)
        recorded = config.init
        return Plan(
            config,
            restart=True,
            init_model=recorded.model if recorded else None,
            init_sha256=recorded.weights_sha256 if recorded else None,
            note=f"{run}: the run was stopped before its first checkpoint, so there is nothing "
            "to resume; starting it from the beginning with its saved configuration",
        )
    config = config.replace(train=train_changes) if train_changes else config
    config.version = __version__
    if runs.is_run(run):
        if runs.has_any_checkpoint(run):
            raise FileProblem(
                run, "already holds a run; pass --resume to continue it, or choose a new --out"
            )
        return Plan(
            config,
            restart=True,
            init_model=init,
            note=f"{run}: holds a run stopped before its first checkpoint; starting it again "
            "from the beginning with the configuration given now",
        )
    return Plan(config, init_model=init)


def train(
    data: str | Path | list[str | Path],
    run: str | Path,
    config: RunConfig,
    *,
    resume: bool = False,
    train_changes: dict | None = None,
    val_data: str | Path | None = None,
    spacing=None,
    json_progress: bool = False,
    device: str = "auto",
    init: str | Path | None = None,
    unlabelled: str | Path | None = None,
    started: float | None = None,
) -> str:
    """Train (or resume) a run; returns why it ended (see :meth:`Trainer.fit`).

    ``data``: a labelled folder, or several trained on together (their images are named
    ``<folder name>/<image>``, :func:`apn_core.dataset.merged_items`).
    ``init``: a bundled model key or run folder to start from (fine-tuning, see
    :mod:`apn_core.train.finetune`); ``config`` should carry that model's settings
    (:func:`apn_core.train.finetune.model_settings`). ``unlabelled``: a folder of images
    without labels for the generator's adversarial terms (:mod:`apn_core.train.steps`);
    a resumed run uses the images it recorded. ``started``: ``time.monotonic()`` at the
    process start (the log's ``wall_s``; default: now).
    """
    started = time.monotonic() if started is None else started
    run = Path(run)
    dist = init_distributed(resolve_device(device))
    stack = contextlib.ExitStack()
    try:
        torch_device = dist.device
        if torch_device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        else:
            torch.use_deterministic_algorithms(True)
            # the cores idle now, shared by the ranks (OMP_NUM_THREADS, if set, wins): with
            # torch's default pool one core busy elsewhere made each step 5-250× slower
            torch.set_num_threads(training_threads(dist.world))
        plan = plan_run(run, config, resume, train_changes or {}, str(init) if init else None)
        config = plan.config
        if dist.is_main and run.is_dir():  # one writer per run: a second `--resume` is refused
            stack.enter_context(folder_lock(run, "run folder"))  # (a new run: when created)
        barrier(dist)  # every rank checks the run folder before rank 0 writes into it
        progress = Progress(json_lines=json_progress, enabled=dist.is_main)
        if plan.note and dist.is_main:
            log.warning("%s", plan.note)
            progress.event("note", message=plan.note)
        start = None
        if not plan.resume:
            start = (
                finetune.prepare(plan.init_model, config, plan.init_sha256)
                if plan.init_model
                else None
            )
            config.init = start.record if start else None
        if plan.resume and dist.is_main and (stale := runs.retire_calibration(run)):
            note = (
                f"{runs.CALIBRATION} was fitted on the weights before this resume: set aside "
                f"as {stale.name}; fit it again with apn calibrate when training ends"
            )
            log.warning("%s", note)
            progress.event("note", message=note)
        recorded = runs.read_split(run) if plan.resume else {}
        if plan.resume:
            val_data = _resumed_val_data(run, recorded, val_data, progress, dist)
        datas = [Path(data)] if isinstance(data, str | Path) else [Path(d) for d in data]
        check_training_folders(datas, val_data)
        folders = [load_labelled_folder(d, config.landmarks, spacing) for d in datas]
        for folder in folders:
            folder.raise_for_errors()
        items = merged_items(folders)
        if val_data is not None:
            val_folder = load_labelled_folder(val_data, config.landmarks, spacing)
            val_folder.raise_for_errors()
            train_items, val_items = items, val_folder.items
        else:
            tr, va = split_indices(len(items), config.train.val_fraction, config.train.seed)
            train_items, val_items = [items[i] for i in tr], [items[i] for i in va]
        if not train_items:
            raise FileProblem(datas[0], "no labelled images to train on")
        if recorded.get("train") is not None:
            _same_images(datas[0], recorded, train_items, val_items)
        if dist.is_main and not plan.resume:
            split = {
                "train": [i.labels.image for i in train_items],
                "val": [i.labels.image for i in val_items],
                "data": str(datas[0].resolve())
                if len(datas) == 1
                else [str(d.resolve()) for d in datas],
                "val_data": str(Path(val_data).resolve()) if val_data else None,
            }
            try:
                if not run.is_dir():  # created now, after the data were checked
                    run.mkdir(parents=True)
                    stack.enter_context(folder_lock(run, "run folder"))
                if plan.restart:
                    runs.forget_unstarted(run)
                runs.save_config(run, config)
                runs.write_split(run, split)
            except OSError as exc:
                raise FileProblem(
                    run, f"cannot write the run folder ({exc.strerror or exc})"
                ) from None
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
        unlabelled_t = _unlabelled(
            run, config, plan, unlabelled, train_items + val_items, dist, progress
        )
        checkpoint = None
        if plan.resume:  # verified, and its networks' fit checked, before they are built
            may_differ = {f"train.{k}" for k in RESUMABLE_CHANGES}
            checkpoint = runs.read_resumable(run, config, may_differ)
            trust.check_fits(checkpoint.path, config)
            trust.check_values(checkpoint.weights, checkpoint.path)
        trainer = Trainer(
            config, run, train_t, val_t, torch_device, dist, progress, unlabelled_t, started
        )
        if checkpoint is not None:
            trainer.resume(checkpoint)
        elif start is not None:
            trainer.initialise(start.merged_with(weights_of(trainer.nets)), start.trained)
        return trainer.fit()
    finally:
        stack.close()
        shutdown(dist)


def _unlabelled(run: Path, config: RunConfig, plan: Plan, folder, labelled, dist, progress):
    """The unlabelled images of this run as tensors, or ``None``.

    A new run takes every image under ``folder`` (:func:`apn_core.dataset.find_images`)
    except the labelled ones (training and validation), skips — and reports — those that
    cannot be read, and records the folder and the images used in ``split.json``. A
    resumed run takes exactly the images it recorded (``folder``, if given, must be the
    recorded one)."""
    recorded = runs.read_split(run).get("unlabelled") if plan.resume else None
    if plan.resume and (recorded or folder is not None):
        if recorded is None:
            raise FileProblem(
                "--unlabelled", "this run was trained without unlabelled images; it continues so"
            )
        if folder is not None and Path(folder).resolve() != Path(recorded["folder"]):
            raise FileProblem(
                "--unlabelled",
                f"this run was trained with the unlabelled images of {recorded['folder']}; "
                "it continues with those",
            )
    if recorded:
        root = Path(recorded["folder"])
        names = list(recorded["images"])
        data, _ = build_unlabelled(
            [root / n for n in names],
            names,
            len(config.landmarks),
            config.geometry,
            runs.cache_dir(run),
            config.train.workers if dist.is_main else 0,
            skip_unreadable=False,
        )
        return data
    if folder is None:
        return None
    root = Path(folder)
    if not root.is_dir():
        raise FileProblem(root, "--unlabelled needs a folder of images")
    taken = {item.path.resolve() for item in labelled}
    paths = [p for p in find_images(root) if p.resolve() not in taken]
    if not paths:
        raise FileProblem(root, "no unlabelled images found (labelled images are not counted)")
    names = [p.relative_to(root).as_posix() for p in paths]
    if dist.is_main:

        def caching(done: int, total: int) -> None:
            progress.event("cache", done=done, total=total, unlabelled=True)

        data, skipped = build_unlabelled(
            paths,
            names,
            len(config.landmarks),
            config.geometry,
            runs.cache_dir(run),
            config.train.workers,
            caching,
        )
        for path, problem in skipped:
            message = f"unlabelled image skipped: {path}: {problem}"
            log.warning("%s", message)
            progress.event("note", message=message)
        if not len(data):
            raise FileProblem(root, "none of the unlabelled images could be read")
        split = runs.read_split(run)
        split["unlabelled"] = {
            "folder": str(root.resolve()),
            "count": len(data),
            "images": data.names,
            "skipped": [{"image": p, "problem": q} for p, q in skipped],
        }
        runs.write_split(run, split)
        if not _unlabelled_used(config):
            message = (
                "the unlabelled images are not used: they serve the adversarial phase "
                "(loss.unlabelled_weight > 0) and flip consistency (loss.consistency_weight > 0)"
            )
            log.warning("%s", message)
            progress.event("note", message=message)
    barrier(dist)
    if not dist.is_main:
        return _unlabelled(run, config, Plan(config, resume=True), None, labelled, dist, progress)
    return data


def _unlabelled_used(config: RunConfig) -> bool:
    t, loss = config.train, config.loss
    adversarial = t.adversarial and t.epochs_adversarial > 0 and loss.unlabelled_weight > 0
    return adversarial or loss.consistency_weight > 0


def _resumed_val_data(run: Path, recorded: dict, val_data, progress, dist):
    """The validation folder of a resumed run: the one it recorded (a run started with
    ``--val`` and resumed without it would otherwise split its training folder anew)."""
    saved = recorded.get("val_data")
    if val_data is None:
        if saved and dist.is_main:
            message = f"{run}: resuming with its validation folder {saved}"
            log.info("%s", message)
            progress.event("note", message=message)
        return saved
    if Path(val_data).resolve() != Path(saved or "").resolve() or not saved:
        raise FileProblem(
            "--val",
            f"this run validates on {saved or 'a share of its training folder'}; it resumes so",
        )
    return val_data


def _same_images(data, recorded: dict, train_items, val_items) -> None:
    """A resumed run trains and validates on the images it started with."""
    now = {
        "train": [i.labels.image for i in train_items],
        "val": [i.labels.image for i in val_items],
    }
    for part in ("train", "val"):
        if part in recorded and list(recorded[part]) != now[part]:
            raise FileProblem(
                data,
                f"its {part} images differ from those this run started with "
                f"({len(recorded[part])} recorded in {runs.SPLIT}, {len(now[part])} now); a run "
                "resumes on the same images — start a new run (or --init from this one)",
            )
