"""The training loop: supervised pre-training, then the adversarial phase.

Resumable to the step: the data order of an epoch is a permutation seeded by
(seed, epoch), and each step reseeds torch's generator from (seed, epoch, step, rank)
before augmenting, so a run resumed from ``last`` replays exactly what an uninterrupted
run would have done (deterministic algorithms on CPU).
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
from apn_core.heatmaps import decode, render_targets
from apn_core.losses import (
    discriminator_loss,
    discriminator_targets,
    generator_adversarial_loss,
    heatmap_loss,
)
from apn_core.models import build_networks
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
    best_mre: float = math.inf
    elapsed_s: float = 0.0
    epoch_sums: dict | None = None  # running loss sums of a partly done epoch
    epoch_images: int = 0


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
        self.opt_g = torch.optim.Adam(self.nets.generator.parameters(), lr=t.lr)
        d_params = list(self.nets.pose.parameters()) + list(self.nets.confidence.parameters())
        self.opt_d = torch.optim.Adam(d_params, lr=t.lr_discriminator, betas=(0.5, 0.999))
        self.augment = (
            Augmenter(config.augment, config.landmarks.flip_permutation())
            if config.augment.enabled
            else None
        )
        self.state = LoopState()
        self.g, self.p, self.c = self.nets.generator, self.nets.pose, self.nets.confidence
        if dist.enabled:
            ids = [device.index] if device.type == "cuda" else None
            self.g, self.p, self.c = (DDP(m, device_ids=ids) for m in (self.g, self.p, self.c))
        self.amp = device.type == "cuda"

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

    def resume(self) -> None:
        self.nets.load_state_dict(runs.load_weights(self.run, "last"))
        state = runs.load_state(self.run, "last")
        self.opt_g.load_state_dict(state["optim_generator"])
        self.opt_d.load_state_dict(state["optim_discriminators"])
        self.state = LoopState(**state["loop"])

    def save(self, tag: str) -> None:
        state = {"loop": vars(self.state).copy(), "optim_generator": self.opt_g.state_dict(),
                 "optim_discriminators": self.opt_d.state_dict(), "version": __version__}  # fmt: skip
        runs.save_checkpoint(self.run, tag, self.nets.state_dict(), state)

    # ----- the loop ----------------------------------------------------------------
    def fit(self) -> str:
        """Train until done, stopped by a signal, or out of time.

        Returns why it ended: ``"done"``, ``"time"``, ``"requested"`` (``stop_after_steps``)
        or the signal's name (``"SIGINT"``, ``"SIGTERM"``); a checkpoint is saved in every case.
        """
        steps = self.steps_per_epoch()
        total = self.total_epochs * steps
        self.progress.start(total, self.state.epoch * steps + self.state.step)
        self.progress.event("start", epochs=self.total_epochs, steps_per_epoch=steps, resume_epoch=self.state.epoch,
                            resume_step=self.state.step, train_images=len(self.train_data), val_images=len(self.val_data))  # fmt: skip
        started, steps_here = time.monotonic(), 0
        invocation_start = started
        reason = "done"
        with StopRequest() as stop:
            while self.state.epoch < self.total_epochs:
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
                    steps_here += 1
                    self.progress.step(self.state.global_step, phase=self.phase(epoch), epoch=epoch + 1, epochs=self.total_epochs,
                                       step=self.state.step, steps=steps, loss=round(losses["loss"], 6))  # fmt: skip
                    budget = self.cfg.train.max_minutes  # this invocation's (--resume restarts it)
                    spent = time.monotonic() - invocation_start
                    out_of_time = budget is not None and spent >= 60 * budget
                    debug_stop = (
                        self.cfg.train.stop_after_steps is not None
                        and steps_here >= self.cfg.train.stop_after_steps
                    )
                    if any_rank(bool(stop.reason) or out_of_time or debug_stop, self.dist):
                        # a rank without its own signal stops because a peer got one
                        fallback = (
                            "time" if out_of_time else "requested" if debug_stop else "SIGTERM"
                        )
                        reason = stop.reason or fallback
                        break
                if reason != "done":
                    break
                self.state.elapsed_s += time.monotonic() - started
                started = time.monotonic()
                n_images = self.state.epoch_images
                (
                    self.state.epoch,
                    self.state.step,
                    self.state.epoch_sums,
                    self.state.epoch_images,
                ) = epoch + 1, 0, None, 0
                self.end_epoch(epoch, lr, sums, steps, n_images, time.monotonic() - epoch_start)
        self.progress.close()
        if reason != "done":
            self.state.elapsed_s += time.monotonic() - started
            if self.dist.is_main:
                self.save("last")
            barrier(self.dist)
            self.progress.event("stopped", reason=reason, epoch=self.state.epoch + 1, step=self.state.step,
                                checkpoint=str(runs.weights_path(self.run, "last")))  # fmt: skip
        else:
            self.progress.event(
                "done",
                best_val_mre=self.state.best_mre,
                checkpoint=str(runs.weights_path(self.run, "best")),
            )
        return reason

    def end_epoch(
        self, epoch: int, lr: float, sums: dict, steps: int, n_images: int, seconds: float
    ) -> None:
        record = {"epoch": epoch + 1, "phase": self.phase(epoch), "lr": self.cfg.train.lr * lr, "time_s": round(seconds, 2),
                  "images_per_s": round(n_images / max(seconds, 1e-9), 2)}  # fmt: skip
        record.update({k: v / steps for k, v in sums.items()})
        if self.dist.is_main:
            if len(self.val_data):
                xy, peak = predict_tensors(self.nets.generator, self.val_data.images, self.cfg.geometry.stride,
                                           self.cfg.decoding, device=self.device)  # fmt: skip
                metrics = validation_metrics(
                    xy,
                    peak,
                    self.val_data,
                    self.cfg.landmarks.names,
                    self.cfg.loss.presence_threshold,
                )
                record.update({f"val_{k}": v for k, v in metrics["all"].items() if k != "n"})
                record["val_per_landmark"] = {n: metrics[n] for n in self.cfg.landmarks.names}
                record["val_absent_reported_present"] = metrics["absent_reported_present"]
                record["val_present_reported_absent"] = metrics["present_reported_absent"]
                if "occluded" in metrics:
                    record["val_occluded"] = metrics["occluded"]
            score = record.get("val_mre", record.get("loss_mse", math.inf))
            if score < self.state.best_mre:
                self.state.best_mre = score
                self.save("best")
            self.save("last")
            runs.append_log(self.run, record)
            log.debug("epoch %d: %s", epoch + 1, record)
        barrier(self.dist)
        self.progress.event("epoch", **{k: v for k, v in record.items() if k != "val_per_landmark"})

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
            self.opt_d.zero_grad(set_to_none=True)
            (loss_p + loss_c).backward()
            self.opt_d.step()
            # Generator: heatmap MSE + β·L_adv^P + α·L_adv^C (discriminators not updated here).
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                adv_p = generator_adversarial_loss(self.nets.pose(fake, images).float(), weight)
                adv_c = generator_adversarial_loss(self.nets.confidence(fake).float(), weight)
            loss = mse + cfg.loss.beta * adv_p + cfg.loss.alpha * adv_c
            out.update({"loss_d_pose": loss_p.item(), "loss_d_confidence": loss_c.item(), "loss_adv_pose": adv_p.item(),
                        "loss_adv_confidence": adv_c.item(), "p_fake": p_fake.mean().item()})  # fmt: skip
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        out["loss"] = loss.item()
        return out
