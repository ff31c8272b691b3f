"""The training loop: supervised pre-training, then the adversarial phase.

Resumable to the step: the data order of an epoch is a permutation seeded by
(seed, epoch), and each step reseeds torch's generator from (seed, epoch, step, rank)
before augmenting, so a run resumed from ``last`` replays exactly what an uninterrupted
run would have done (deterministic algorithms on CPU).

A non-finite loss stops training at once with :class:`TrainingDiverged` (before the
step's update), and weights are checked to be finite before every save: NaN weights never
become ``best`` or ``last``; the previous checkpoint stays.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from apn_core import __version__, runs
from apn_core.config import RunConfig
from apn_core.errors import FileProblem
from apn_core.heatmaps import decode, render_targets
from apn_core.losses import (
    discriminator_loss,
    discriminator_targets,
    generator_adversarial_loss,
    heatmap_loss,
)
from apn_core.models import build_networks, load_networks, weights_of
from apn_core.train.augment import Augmenter
from apn_core.train.data import TrainingTensors
from apn_core.train.distributed import DistInfo, any_rank, barrier
from apn_core.train.progress import Progress
from apn_core.train.validate import predict_tensors, validation_metrics

log = logging.getLogger(__name__)
MIN_LR_FACTOR = 0.05


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


class Trainer:
    """Trains the networks of ``config`` on ``train`` data, validating on ``val``, writing ``run``."""

    def __init__(
        self,
        config: RunConfig,
        run: Path,
        train: TrainingTensors,
        val: TrainingTensors,
        device: torch.device,
        dist: DistInfo,
        progress: Progress,
    ) -> None:
        self.cfg, self.run, self.train_data, self.val_data = config, Path(run), train, val
        self.device, self.dist, self.progress = device, dist, progress
        torch.manual_seed(config.train.seed)  # same seed → same initial weights (and on every rank)
        self.nets = build_networks(config).to(device, memory_format=torch.channels_last)
        t = config.train
        self.opt_g = torch.optim.Adam(self.nets["generator"].parameters(), lr=t.lr)
        d_params = [*self.nets["pose"].parameters(), *self.nets["confidence"].parameters()]
        self.opt_d = torch.optim.Adam(d_params, lr=t.lr_discriminator, betas=(0.5, 0.999))
        self.augment = (
            Augmenter(config.augment, config.landmarks.flip_permutation())
            if config.augment.enabled
            else None
        )
        self.state = LoopState()
        self.g, self.p, self.c = self.nets["generator"], self.nets["pose"], self.nets["confidence"]
        self.wrapped = False
        self.amp = device.type == "cuda"

    def _wrap(self) -> None:
        """DistributedDataParallel around each network (after any weights are loaded: DDP
        broadcasts rank 0's parameters when it wraps)."""
        if self.dist.enabled and not self.wrapped:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g, self.p, self.c = (DDP(m, device_ids=ids) for m in (self.g, self.p, self.c))
            self.wrapped = True

    # ----- bookkeeping -------------------------------------------------------------
    @property
    def total_epochs(self) -> int:
        t = self.cfg.train
        return t.epochs_pretrain + (t.epochs_adversarial if t.adversarial else 0)

    def phase(self, epoch: int) -> str:
        return "pretrain" if epoch < self.cfg.train.epochs_pretrain else "adversarial"

    def batch_size(self) -> int:
        return max(1, min(self.cfg.train.batch_size, len(self.train_data) // self.dist.world))

    def steps_per_epoch(self) -> int:
        return max(1, len(self.train_data) // (self.batch_size() * self.dist.world))

    def lr_factor(self, epoch: int) -> float:
        return MIN_LR_FACTOR + (1 - MIN_LR_FACTOR) * 0.5 * (
            1 + math.cos(math.pi * epoch / max(1, self.total_epochs))
        )

    def initialise(self, weights: dict[str, torch.Tensor]) -> None:
        """Start from these weights (fine-tuning): every network, strictly."""
        load_networks(self.nets, weights, "--init")

    def resume(self, checkpoint) -> None:
        """Continue from a verified ``last`` checkpoint (:func:`apn_core.runs.read_resumable`)."""
        load_networks(self.nets, checkpoint.weights, checkpoint.path)
        state = checkpoint.state
        try:
            self.opt_g.load_state_dict(state["optim_generator"])
            self.opt_d.load_state_dict(state["optim_discriminators"])
            self.state = LoopState(**state["loop"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FileProblem(
                checkpoint.path, f"training state does not fit this run ({exc})"
            ) from None
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
        if tag == "last":
            state = {
                "loop": vars(self.state).copy(),
                "optim_generator": self.opt_g.state_dict(),
                "optim_discriminators": self.opt_d.state_dict(),
            }
            runs.save_checkpoint(self.run, tag, weights, state, self.cfg, {"version": __version__})
        else:
            meta = {"version": __version__, "epoch": str(self.state.best_epoch)}
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
        self._wrap()
        steps = self.steps_per_epoch()
        total = self.total_epochs * steps
        self.progress.start(total, self.state.epoch * steps + self.state.step)
        self.progress.event(
            "start",
            epochs=self.total_epochs,
            steps_per_epoch=steps,
            resume_epoch=self.state.epoch,
            resume_step=self.state.step,
            train_images=len(self.train_data),
            val_images=len(self.val_data),
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

    def _epoch(self, stop: StopRequest, steps: int) -> str:
        """Run the rest of the current epoch; ``"done"`` when it completed (and was logged)."""
        epoch = self.state.epoch
        lr = self.lr_factor(epoch)
        for group in self.opt_g.param_groups:
            group["lr"] = self.cfg.train.lr * lr
        for group in self.opt_d.param_groups:
            group["lr"] = self.cfg.train.lr_discriminator * lr
        order = torch.randperm(
            len(self.train_data),
            generator=torch.Generator().manual_seed(self.cfg.train.seed * 100003 + epoch),
        )
        sums: dict[str, float] = self.state.epoch_sums or {}
        self.state.epoch_sums = sums
        epoch_start = time.monotonic()
        while self.state.step < steps:
            losses = self.train_step(order, epoch, self.state.step)
            self.state.epoch_images += self.batch_size() * self.dist.world
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
            self.state.step += 1
            self.state.global_step += 1
            self._steps_here += 1
            self.progress.step(
                self.state.global_step,
                phase=self.phase(epoch),
                epoch=epoch + 1,
                epochs=self.total_epochs,
                step=self.state.step,
                steps=steps,
                loss=round(losses["loss"], 6),
            )
            budget = self.cfg.train.max_minutes  # this invocation's (--resume restarts it)
            spent = time.monotonic() - self._invocation_start
            out_of_time = budget is not None and spent >= 60 * budget
            debug_stop = (
                self.cfg.train.stop_after_steps is not None
                and self._steps_here >= self.cfg.train.stop_after_steps
            )
            if any_rank(bool(stop.reason) or out_of_time or debug_stop, self.dist):
                # a rank without its own signal stops because a peer got one
                fallback = "time" if out_of_time else "requested" if debug_stop else "SIGTERM"
                return stop.reason or fallback
        n_images = self.state.epoch_images
        self.state.epoch, self.state.step, self.state.epoch_sums, self.state.epoch_images = (
            epoch + 1,
            0,
            None,
            0,
        )
        self.end_epoch(epoch, lr, sums, steps, n_images, time.monotonic() - epoch_start)
        return "done"

    def selection_key(self, record: dict) -> list[float]:
        """What ``best`` minimises: with validation data, most landmarks handled correctly
        (``val_correct``), then the lowest ``val_mre``; without, the training heatmap loss."""
        if "val_correct" in record:
            return [-record["val_correct"], record.get("val_mre", math.inf)]
        return [0.0, record.get("loss_mse", math.inf)]

    def end_epoch(
        self, epoch: int, lr: float, sums: dict, steps: int, n_images: int, seconds: float
    ) -> None:
        record = {
            "epoch": epoch + 1,
            "phase": self.phase(epoch),
            "lr": self.cfg.train.lr * lr,
            "time_s": round(seconds, 2),
            "images_per_s": round(n_images / max(seconds, 1e-9), 2),
        }
        record.update({k: v / steps for k, v in sums.items()})
        last_epoch = epoch + 1 == self.total_epochs
        validate = (epoch + 1) % self.cfg.train.validate_every == 0 or last_epoch
        self.check_weights()
        if self.dist.is_main:
            if len(self.val_data) and validate:
                record.update(self.validate())
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
            self.val_data.images,
            cfg.geometry.stride,
            cfg.decoding,
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

    def train_step(self, order: torch.Tensor, epoch: int, step: int) -> dict[str, float]:
        cfg, bs = self.cfg, self.batch_size()
        start = (step * self.dist.world + self.dist.rank) * bs
        idx = order[start : start + bs]
        torch.manual_seed(
            ((cfg.train.seed * 1_000_003 + epoch) * 100_003 + step) * 97 + self.dist.rank
        )
        data = self.train_data
        images = data.images[idx].to(self.device).float()
        xy, present = data.xy[idx].to(self.device), data.present[idx].to(self.device)
        weight = data.annotated[idx].to(self.device).float()
        mm = data.mm_per_px[idx].to(self.device)
        if self.augment is not None:
            images, xy, present = self.augment(images, xy, present)
        images = images.contiguous(memory_format=torch.channels_last)
        geometry = cfg.geometry
        target = render_targets(xy, geometry.heatmap_shape, geometry.stride, cfg.loss.sigma)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            outputs = self.g(images)
            mse = heatmap_loss(outputs, target, weight, cfg.loss.foreground_weight)
        out = {"loss_mse": mse.item()}
        loss = mse
        if self.phase(epoch) == "adversarial":
            fake = outputs[-1].float()
            with torch.no_grad():
                pred, peak = decode(fake, geometry.stride, cfg.decoding)
                p_fake = discriminator_targets(
                    pred, peak, xy, present, mm, cfg.loss.tolerance_mm, cfg.loss.presence_threshold
                )
            # Discriminators: one forward over [real; generated] (DDP needs a single call).
            both = torch.cat([target, fake.detach()])
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                p_out = self.p(both, torch.cat([images, images])).float()
                c_out = self.c(both).float()
            n = len(target)
            loss_p = discriminator_loss(p_out[:n], p_out[n:], p_fake, weight)
            loss_c = discriminator_loss(c_out[:n], c_out[n:], p_fake, weight)
            self.check_finite(loss_mse=mse, loss_d_pose=loss_p, loss_d_confidence=loss_c)
            self.opt_d.zero_grad(set_to_none=True)
            (loss_p + loss_c).backward()
            self.opt_d.step()
            # Generator: heatmap MSE + β·L_adv^P + α·L_adv^C (discriminators not updated here).
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                adv_p = generator_adversarial_loss(self.nets["pose"](fake, images).float(), weight)
                adv_c = generator_adversarial_loss(self.nets["confidence"](fake).float(), weight)
            loss = mse + cfg.loss.beta * adv_p + cfg.loss.alpha * adv_c
            out.update(
                loss_d_pose=loss_p.item(),
                loss_d_confidence=loss_c.item(),
                loss_adv_pose=adv_p.item(),
                loss_adv_confidence=adv_c.item(),
                p_fake=p_fake.mean().item(),
            )
        self.check_finite(loss=loss)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        out["loss"] = loss.item()
        return out
