"""The training loop: supervised pre-training, then the adversarial phase.

Resumable to the step: the data order of an epoch is seeded by (seed, epoch), and each step
seeds its augmentation from (seed, epoch, step, rank), so a run resumed from ``last``
replays exactly what an uninterrupted run would have done (deterministic algorithms on CPU).

On a GPU nothing waits for the device within a step (:mod:`apn_core.train.steps`): the
training data lives on the GPU, the losses are summed there and read every
:data:`SYNC_EVERY` steps — when the progress is reported (at most once a second) and the
sums are checked to be finite. On a CPU every step is checked and reported.

A non-finite loss stops training with :class:`TrainingDiverged` — on a CPU before that
step's update, on a GPU at the next check — and weights are checked to be finite before
every save: NaN weights never become ``best`` or ``last``; the previous checkpoint stays.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from apn_core import __version__, runs
from apn_core.config import RunConfig
from apn_core.errors import FileProblem
from apn_core.models import build_networks, load_networks, weights_of
from apn_core.train import batching
from apn_core.train.augment import Augmenter
from apn_core.train.data import TrainingTensors, place
from apn_core.train.distributed import DistInfo, any_rank, barrier, min_over_ranks
from apn_core.train.progress import Progress
from apn_core.train.steps import TrainSteps
from apn_core.train.validate import predict_tensors, validation_metrics

log = logging.getLogger(__name__)
MIN_LR_FACTOR = 0.05
SYNC_EVERY = 25  # GPU steps between reading the losses back
REPORT_EVERY_S = 1.0  # at most one GPU "step" event a second


@dataclass
class LoopState:
    epoch: int = 0  # next epoch to run (0-based over both phases)
    step: int = 0  # next step within that epoch
    global_step: int = 0
    best_mre: float = math.inf  # val_mre of the best epoch (for the "done" event)
    best_key: list | None = None  # what "best" minimises, see Trainer.selection_key
    best_epoch: int = 0
    elapsed_s: float = 0.0
    epoch_sums: dict | None = None  # running loss sums of a partly done epoch
    epoch_images: int = 0
    log_records: int = 0  # lines of log.jsonl this checkpoint accounts for
    batch_size: int = 0  # images per step per process, once decided (0: not yet)
    wall_s: float = 0.0  # wall time of the run's invocations up to this checkpoint
    # discriminators whose weights went through adversarial updates (or came trained from
    # --init): recorded in every checkpoint, so inference never asks an untrained one
    trained_discriminators: list[str] = field(default_factory=list)


def _to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on ``device`` without making the host wait (pinned, non-blocking)."""
    if device.type != "cuda":
        return t
    return t.pin_memory().to(device, non_blocking=True)


class TrainingDiverged(FileProblem):
    """The loss or the weights became NaN/infinite; nothing of that step was saved."""


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag the loop checks after each step."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._old: dict = {}

    def __enter__(self) -> StopRequest:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, _frame) -> None:
        self.reason = signal.Signals(signum).name

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class Trainer(TrainSteps):
    """Trains the networks of ``config`` on ``train`` data, validating on ``val``, writing
    ``run``; ``unlabelled``: images without labels for the generator's adversarial terms.
    ``started``: ``time.monotonic()`` when the ``apn train`` process started (``wall_s``)."""

    def __init__(
        self,
        config: RunConfig,
        run: Path,
        train: TrainingTensors,
        val: TrainingTensors,
        device: torch.device,
        dist: DistInfo,
        progress: Progress,
        unlabelled: TrainingTensors | None = None,
        started: float | None = None,
    ) -> None:
        self.cfg, self.run, self.val_data = config, Path(run), val
        self.device, self.dist, self.progress = device, dist, progress
        self.started = time.monotonic() if started is None else started
        self._wall_base = 0.0
        torch.manual_seed(config.train.seed)  # same seed → same initial weights (and on every rank)
        self.nets = build_networks(config).to(device, memory_format=torch.channels_last)
        t = config.train
        self.opt_g = torch.optim.Adam(self.nets["generator"].parameters(), lr=t.lr)
        d_params = [*self.nets["pose"].parameters(), *self.nets["confidence"].parameters()]
        self.opt_d = torch.optim.Adam(d_params, lr=t.lr_discriminator, betas=(0.5, 0.999))
        self.flip_perm = torch.tensor(config.landmarks.flip_permutation(), device=device)
        self.augment = (
            Augmenter(config.augment, config.landmarks.flip_permutation())
            if config.augment.enabled
            else None
        )
        self.state = LoopState()
        self._sums: dict[str, torch.Tensor] = {}  # the epoch's running loss sums (device)
        self.amp = device.type == "cuda"
        self.eager_checks = device.type != "cuda"  # check and report every step
        self.n_train = len(train)
        self.train_data = place(train, device)
        self.unlabelled = place(unlabelled, device) if unlabelled is not None else None
        self.unlabelled_order: torch.Tensor | None = None
        self.val_images = place(val, device).images if len(val) else val.images
        self.reference = batching.reference_batch(config, self.n_train, dist.world)
        self.steps = batching.steps_per_epoch(self.n_train, self.reference, dist.world)
        self.batch = self.reference  # decided for the device in fit()
        self.scale = 1.0
        g, p, c = self.nets["generator"], self.nets["pose"], self.nets["confidence"]
        if t.compile:
            g, p, c = (torch.compile(m) for m in (g, p, c))
        self.g_plain, self.p_plain, self.c_plain = g, p, c  # used outside DDP
        self.g, self.p, self.c = g, p, c
        self.wrapped = False

    def _wrap(self) -> None:
        """DistributedDataParallel around each network (after any weights are loaded: DDP
        broadcasts rank 0's parameters when it wraps)."""
        if self.dist.enabled and not self.wrapped:
            ids = [self.device.index] if self.device.type == "cuda" else None
            nets = (self.nets["generator"], self.nets["pose"], self.nets["confidence"])
            wrapped = [DDP(m, device_ids=ids) for m in nets]
            if self.cfg.train.compile:
                wrapped = [torch.compile(m) for m in wrapped]
            self.g, self.p, self.c = wrapped
            self.wrapped = True

    # ----- bookkeeping -------------------------------------------------------------
    @property
    def total_epochs(self) -> int:
        t = self.cfg.train
        return t.epochs_pretrain + (t.epochs_adversarial if t.adversarial else 0)

    def phase(self, epoch: int) -> str:
        return "pretrain" if epoch < self.cfg.train.epochs_pretrain else "adversarial"

    def batch_size(self) -> int:
        """Images per step per process on this device."""
        return self.batch

    def steps_per_epoch(self) -> int:
        return self.steps

    def lr_factor(self, epoch: int) -> float:
        return MIN_LR_FACTOR + (1 - MIN_LR_FACTOR) * 0.5 * (
            1 + math.cos(math.pi * epoch / max(1, self.total_epochs))
        )

    def learning_rates(self, epoch: int, global_step: int) -> tuple[float, float]:
        """(generator, discriminators) learning rates of a step: the configured rates,
        scaled for the device batch (warming up over the first epoch), cosine-decayed."""
        t = self.cfg.train
        factor = self.scale * batching.warmup(self.scale, global_step, self.steps)
        decay = self.lr_factor(epoch)
        return t.lr * factor * decay, t.lr_discriminator * factor * decay

    def wall(self) -> float:
        """Seconds of wall time since the run's first ``apn train`` process started
        (reading and caching included; earlier invocations of a resumed run counted)."""
        return self._wall_base + time.monotonic() - self.started

    def decide_batch(self) -> None:
        """Images per step for this device (kept from the checkpoint when resuming) and the
        learning-rate scale that goes with it (:mod:`apn_core.train.batching`)."""
        if self.state.batch_size:
            self.batch = self.state.batch_size
        else:
            batch = batching.device_batch(
                self.cfg,
                self.nets,
                self.device,
                self.n_train,
                self.dist.world,
                self.unlabelled is not None,
            )
            self.batch = self.state.batch_size = min_over_ranks(batch, self.dist)
        self.scale = batching.lr_scale(self.cfg.train.lr_scaling, self.batch, self.reference)

    def initialise(self, weights: dict[str, torch.Tensor], trained=()) -> None:
        """Start from these weights (fine-tuning): every network, strictly. ``trained``:
        the discriminators that come trained from the source (not started fresh)."""
        load_networks(self.nets, weights, "--init")
        self.state.trained_discriminators = sorted(trained)

    def resume(self, checkpoint) -> None:
        """Continue from a verified ``last`` checkpoint (:func:`apn_core.runs.read_resumable`)."""
        load_networks(self.nets, checkpoint.weights, checkpoint.path)
        state = checkpoint.state
        try:
            self.opt_g.load_state_dict(state["optim_generator"])
            self.opt_d.load_state_dict(state["optim_discriminators"])
            self.state = LoopState(**state["loop"])
            if "trained_discriminators" not in state["loop"]:  # written before it was kept
                pretrain = self.cfg.train.epochs_pretrain
                trained = runs.trained_discriminators(checkpoint, pretrain)
                self.state.trained_discriminators = sorted(trained)
        except (KeyError, TypeError, ValueError) as exc:
            raise FileProblem(
                checkpoint.path, f"training state does not fit this run ({exc})"
            ) from None
        self._wall_base = self.state.wall_s
        if self.dist.is_main:
            runs.truncate_log(self.run, self.state.log_records)

    def check_weights(self) -> None:
        """Raise :class:`TrainingDiverged` (on every rank together) if a weight or a
        normalisation statistic is not finite — before anything is saved."""
        bad = [
            k
            for k, v in self.nets.state_dict().items()
            if v.is_floating_point() and not torch.isfinite(v).all()
        ]
        if any_rank(bool(bad), self.dist):
            example = f", e.g. {bad[0]}" if bad else " on another process"
            raise self.diverged(
                f"the weights became non-finite ({len(bad)} tensors{example})",
                f"after global step {self.state.global_step}",
            )

    def save(self, tag: str) -> None:
        """Write the ``tag`` checkpoint (``last``: with optimizer and loop state); rank 0
        only, after :meth:`check_weights` on every rank."""
        weights = weights_of(self.nets)
        if not all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point()):
            raise self.diverged("the weights became non-finite", "before a save")
        state = None
        if tag == "last":
            self.state.wall_s = round(self.wall(), 3)
            self.state.epoch_sums = self._host_sums() if self.state.step else None
            state = {
                "loop": vars(self.state).copy(),
                "optim_generator": self.opt_g.state_dict(),
                "optim_discriminators": self.opt_d.state_dict(),
            }
        meta = {
            "version": __version__,
            runs.TRAINED_KEY: runs.trained_label(self.state.trained_discriminators),
        }
        if tag == "last":
            runs.save_checkpoint(self.run, tag, weights, state, self.cfg, meta)
        else:
            meta["epoch"] = str(self.state.best_epoch)
            runs.save_checkpoint(self.run, tag, weights, None, self.cfg, meta)

    def diverged(self, what: str, where: str = "") -> TrainingDiverged:
        """The error for a non-finite loss/weights: where, what, the likely cause, what is kept."""
        s = self.state
        where = where or (
            f"in epoch {s.epoch + 1}, step {s.step + 1} (global step {s.global_step + 1})"
        )
        kept = (
            f"the previous checkpoint ({runs.weights_path(self.run, 'last').name}) is kept"
            if runs.has_checkpoint(self.run, "last")
            else "no checkpoint was written"
        )
        return TrainingDiverged(
            self.run,
            f"training stopped {where}: {what}. Likely cause: a learning rate too high "
            f"(train.lr = {self.cfg.train.lr:g}, train.lr_discriminator = "
            f"{self.cfg.train.lr_discriminator:g}), or extreme values in the data. Nothing of "
            f"this step was saved; {kept}. Start a new run with a lower --lr",
        )

    def check_finite(self, **losses: torch.Tensor) -> None:
        """Raise :class:`TrainingDiverged` (on every rank together) if a loss is not finite."""
        bad = [name for name, v in losses.items() if not torch.isfinite(v.detach()).all()]
        if any_rank(bool(bad), self.dist):
            what = (
                ", ".join(f"{n} = {losses[n].item()}" for n in bad) or "a loss on another process"
            )
            raise self.diverged(f"the loss is not finite ({what})")

    # ----- the loop ----------------------------------------------------------------
    def fit(self) -> str:
        """Train until done, stopped by a signal, or out of time.

        Returns why it ended: ``"done"``, ``"time"``, ``"requested"`` (``stop_after_steps``)
        or the signal's name (``"SIGINT"``, ``"SIGTERM"``); a checkpoint is saved in every
        case. Raises :class:`TrainingDiverged` on a non-finite loss (nothing saved then).
        """
        self.decide_batch()
        self._wrap()
        steps = self.steps
        self.progress.start(self.total_epochs * steps, self.state.epoch * steps + self.state.step)
        self.progress.event(
            "start",
            epochs=self.total_epochs,
            steps_per_epoch=steps,
            resume_epoch=self.state.epoch,
            resume_step=self.state.step,
            train_images=self.n_train,
            val_images=len(self.val_data),
            unlabelled_images=len(self.unlabelled) if self.unlabelled is not None else 0,
            device=str(self.device),
            batch_size=self.batch,
            lr=self.cfg.train.lr * self.scale,
            lr_discriminator=self.cfg.train.lr_discriminator * self.scale,
            lr_scale=round(self.scale, 6),
        )
        started = self._invocation_start = time.monotonic()
        self._steps_here = 0
        reason = "done"
        with StopRequest() as stop:
            try:
                while self.state.epoch < self.total_epochs:
                    reason = self._epoch(stop, steps)
                    if reason != "done":
                        break
                    self.state.elapsed_s += time.monotonic() - started
                    started = time.monotonic()
            finally:
                self.progress.close()
        if reason != "done":
            self.state.elapsed_s += time.monotonic() - started
            self.check_weights()
            if self.dist.is_main:
                self.save("last")
            barrier(self.dist)
            self.progress.event(
                "stopped",
                reason=reason,
                epoch=self.state.epoch + 1,
                step=self.state.step,
                checkpoint=str(runs.weights_path(self.run, "last")),
            )
        else:
            self.progress.event(
                "done",
                best_val_mre=self.state.best_mre,
                best_epoch=self.state.best_epoch,
                checkpoint=str(runs.weights_path(self.run, "best")),
            )
        return reason

    def _orders(self, epoch: int) -> torch.Tensor:
        """This epoch's data order (and the unlabelled images'), on the data's device."""
        t, count = self.cfg.train, self.steps * self.dist.world * self.batch
        order = batching.epoch_order(self.n_train, count, t.seed, epoch)
        if self.unlabelled is not None:
            u = batching.epoch_order(len(self.unlabelled), count, t.seed, epoch, salt=1)
            self.unlabelled_order = _to(u, self.unlabelled.images.device)
        return _to(order, self.train_data.images.device)

    def _epoch(self, stop: StopRequest, steps: int) -> str:
        """Run the rest of the current epoch; ``"done"`` when it completed (and was logged)."""
        epoch = self.state.epoch
        order = self._orders(epoch)
        sums = self._sums = {
            k: torch.tensor(v, dtype=torch.float64, device=self.device)
            for k, v in (self.state.epoch_sums or {}).items()
        }
        window, window_start = [], self.state.global_step
        last_report = time.monotonic()
        epoch_start = time.monotonic()
        while self.state.step < steps:
            lr_g, lr_d = self.learning_rates(epoch, self.state.global_step)
            for group in self.opt_g.param_groups:
                group["lr"] = lr_g
            for group in self.opt_d.param_groups:
                group["lr"] = lr_d
            losses = self.train_step(order, epoch, self.state.step)
            if self.phase(epoch) == "adversarial":  # P and C were updated
                self.state.trained_discriminators = sorted(runs.DISCRIMINATORS)
            self.state.epoch_images += self.batch * self.dist.world
            for k, v in losses.items():
                sums[k] = sums[k] + v.double() if k in sums else v.double()
            window.append(losses["loss"])
            self.state.step += 1
            self.state.global_step += 1
            self._steps_here += 1
            self.progress.advance()
            synced = self.eager_checks or self.state.step == steps
            synced = synced or self.state.global_step % SYNC_EVERY == 0
            if synced:
                values = torch.stack(window).double().tolist()  # the one read-back
                if any_rank(not all(map(math.isfinite, values)), self.dist):
                    raise self.diverged(
                        "the loss is not finite",
                        f"between global steps {window_start + 1} and {self.state.global_step}",
                    )
                now = time.monotonic()
                if (
                    self.eager_checks
                    or now - last_report >= REPORT_EVERY_S
                    or (self.state.step == steps)
                ):
                    self.progress.step(
                        phase=self.phase(epoch),
                        epoch=epoch + 1,
                        epochs=self.total_epochs,
                        step=self.state.step,
                        steps=steps,
                        global_step=self.state.global_step,
                        loss=round(sum(values) / len(values), 6),
                    )
                    last_report = now
                window, window_start = [], self.state.global_step
            reason = self._stop_reason(stop, synced)
            if reason:
                return reason
        n_images = self.state.epoch_images
        sums_host = self._host_sums()
        self._sums = {}
        self.state.epoch, self.state.step, self.state.epoch_sums, self.state.epoch_images = (
            epoch + 1,
            0,
            None,
            0,
        )
        self.end_epoch(epoch, sums_host, steps, n_images, time.monotonic() - epoch_start)
        return "done"

    def _stop_reason(self, stop: StopRequest, synced: bool) -> str | None:
        """Why to stop now — a signal, the time budget (``"time"``) or
        ``stop_after_steps`` (``"requested"``) — agreed by every rank (a rank without its
        own signal stops because a peer got one: ``"SIGTERM"``); ``None`` to go on. Under
        DDP on a GPU asked only at the shared read-back steps, so that the collective does
        not stall every step."""
        if self.dist.enabled and not synced:
            return None
        budget = self.cfg.train.max_minutes  # this invocation's (--resume restarts it)
        spent = time.monotonic() - self._invocation_start
        out_of_time = budget is not None and spent >= 60 * budget
        debug = self.cfg.train.stop_after_steps
        debug_stop = debug is not None and self._steps_here >= debug
        if not any_rank(bool(stop.reason) or out_of_time or debug_stop, self.dist):
            return None
        return stop.reason or ("time" if out_of_time else "requested" if debug_stop else "SIGTERM")

    def _host_sums(self) -> dict[str, float]:
        """The epoch's running loss sums as floats (one read-back; saved in ``last``)."""
        sums = self._sums
        if not sums:
            return {}
        keys = list(sums)
        values = torch.stack([sums[k] for k in keys]).tolist()
        return dict(zip(keys, values, strict=True))

    def selection_key(self, record: dict) -> list[float]:
        """What ``best`` minimises: with validation data, most landmarks handled correctly
        (``val_correct``), then the lowest ``val_mre``; without, the training heatmap loss."""
        if "val_correct" in record:
            return [-record["val_correct"], record.get("val_mre", math.inf)]
        return [0.0, record.get("loss_mse", math.inf)]

    def end_epoch(self, epoch: int, sums: dict, steps: int, n_images: int, seconds: float) -> None:
        lr_g, _ = self.learning_rates(epoch, self.state.global_step - 1)
        record = {
            "epoch": epoch + 1,
            "phase": self.phase(epoch),
            "lr": lr_g,
            "batch_size": self.batch,
            "time_s": round(seconds, 2),
            "images_per_s": round(n_images / max(seconds, 1e-9), 2),
        }
        record.update({k: v / steps for k, v in sums.items()})
        if not all(math.isfinite(v) for v in sums.values()):
            raise self.diverged("the loss is not finite", f"in epoch {epoch + 1}")
        last_epoch = epoch + 1 == self.total_epochs
        validate = (epoch + 1) % self.cfg.train.validate_every == 0 or last_epoch
        self.check_weights()
        if self.dist.is_main:
            if len(self.val_data) and validate:
                record.update(self.validate())
            record["wall_s"] = round(self.wall(), 2)
            if validate:
                key = self.selection_key(record)
                if self.state.best_key is None or key < self.state.best_key:
                    self.state.best_key, self.state.best_epoch = key, epoch + 1
                    self.state.best_mre = record.get("val_mre", math.inf)
                    self.save("best")
            self.state.log_records += 1
            runs.append_log(self.run, record)
            self.save("last")
            log.debug("epoch %d: %s", epoch + 1, record)
        barrier(self.dist)
        self.progress.event("epoch", **{k: v for k, v in record.items() if k != "val_per_landmark"})

    def validate(self) -> dict:
        """``val_*`` fields of the log: :func:`apn_core.metrics.score` on the validation set."""
        cfg = self.cfg
        xy, peak = predict_tensors(
            self.nets["generator"],
            self.val_images,
            cfg.geometry.stride,
            cfg.decoding,
            batch=64 if self.device.type == "cuda" else 16,
            device=self.device,
        )
        metrics = validation_metrics(
            xy,
            peak,
            self.val_data,
            cfg.landmarks.names,
            cfg.loss.presence_threshold,
            cfg.loss.tolerance_mm,
        )
        out = {f"val_{k}": v for k, v in metrics["all"].items()}
        out["val_per_landmark"] = {n: metrics[n] for n in cfg.landmarks.names}
        if "occluded" in metrics:
            out["val_occluded"] = metrics["occluded"]
        return out
