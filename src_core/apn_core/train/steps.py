"""One training step: a labelled batch, the discriminators' update, the generator's update
(with the adversarial terms on unlabelled images when there are any).

Everything here stays on the training device: the step returns its losses as 0-d device
tensors and reads nothing back, so on a GPU the host queues step after step without
waiting (the loop reads the losses every few steps). On a CPU the losses are also checked
before the update (``eager_checks``), so a non-finite loss never reaches the weights.

Adversarial phase, per step (labelled batch x with targets y; unlabelled batch u):

1. the discriminators P and C learn from labelled images only: real heatmaps y → 1,
   generated G(x) → p_fake (how correct each landmark is);
2. the generator gets L_MSE + β·L_adv^P + α·L_adv^C on x, plus
   ``unlabelled_weight``·(β·L_adv^P + α·L_adv^C) on u — with P and C frozen (no gradient
   reaches their weights, their normalisation statistics are restored after judging u);
3. optionally ``consistency_weight``·‖G(u) − mirror(G(mirror(u)))‖² (flip consistency).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from apn_core.heatmaps import decode, render_targets
from apn_core.losses import (
    discriminator_loss,
    discriminator_targets,
    generator_adversarial_loss,
    heatmap_loss,
)


def step_seed(seed: int, epoch: int, step: int, rank: int) -> int:
    """The augmentation seed of one step of one process (the same for a resumed run), in
    the range torch's generators accept (a large ``train.seed`` overflowed it)."""
    return (((seed * 1_000_003 + epoch) * 100_003 + step) * 97 + rank) % (2**63 - 1)


@contextmanager
def frozen(modules: list[nn.Module], keep_statistics: bool) -> Iterator[None]:
    """No gradient into these modules' weights while inside. With ``keep_statistics``
    their buffers (BatchNorm running statistics) are swapped for copies while inside, so
    whatever the forward passes do to them is dropped (the originals are never written:
    autograd keeps what the forward saved)."""
    params = [p for m in modules for p in m.parameters()]
    owners = [
        (sub, name, buf)
        for m in modules
        for sub in m.modules()
        for name, buf in sub.named_buffers(recurse=False)
        if keep_statistics and buf is not None
    ]
    for p in params:
        p.requires_grad_(False)
    for sub, name, buf in owners:
        setattr(sub, name, buf.clone())
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
        for sub, name, buf in owners:
            setattr(sub, name, buf)


class TrainSteps:
    """The step of :class:`apn_core.train.loop.Trainer` (a mixin: it uses the trainer's
    networks, optimizers, data, augmenter and configuration)."""

    def gather(self, data, order: torch.Tensor, step: int, seed: int):
        """This process's images of ``step`` from ``order``, augmented with ``seed``:
        ``(images (B,1,H,W) channels-last, xy, present, weight, mm_per_px)``."""
        bs, dist = self.batch, self.dist
        start = (step * dist.world + dist.rank) * bs
        idx = order[start : start + bs]
        images = data.images[idx]
        if images.device.type == "cpu" and self.device.type == "cuda":  # kept in pinned host memory
            images = images.pin_memory().to(self.device, non_blocking=True)
        images = images.float()
        xy, present = data.xy[idx].to(self.device), data.present[idx].to(self.device)
        weight = data.annotated[idx].to(self.device).float()
        mm = data.mm_per_px[idx].to(self.device)
        if self.augment is not None:
            images, xy, present = self.augment(images, xy, present, seed)
        return images.contiguous(memory_format=torch.channels_last), xy, present, weight, mm

    def train_step(self, order: torch.Tensor, epoch: int, step: int) -> dict[str, torch.Tensor]:
        """One update; the losses as detached 0-d tensors on the device."""
        cfg = self.cfg
        seed = step_seed(cfg.train.seed, epoch, step, self.dist.rank)
        torch.manual_seed(seed)
        images, xy, present, weight, mm = self.gather(self.train_data, order, step, seed)
        geometry = cfg.geometry
        target = render_targets(xy, geometry.heatmap_shape, geometry.stride, cfg.loss.sigma)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            outputs = self.g(images)
            mse = heatmap_loss(outputs, target, weight, cfg.loss.foreground_weight)
        out = {"loss_mse": mse.detach()}
        loss = mse
        adversarial = self.phase(epoch) == "adversarial"
        if adversarial:
            loss = loss + self._adversarial(images, xy, present, weight, mm, target, outputs, out)
        if self.uses_unlabelled(epoch):
            loss = loss + self._unlabelled(epoch, step, seed, adversarial, out)
        if self.eager_checks:
            self.check_finite(loss=loss, **out)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        out["loss"] = loss.detach()
        return out

    def _adversarial(self, images, xy, present, weight, mm, target, outputs, out) -> torch.Tensor:
        """Update P and C (labelled images only); return G's adversarial terms."""
        cfg = self.cfg
        fake = outputs[-1].float()
        with torch.no_grad():
            pred, peak = decode(fake, cfg.geometry.stride, cfg.decoding)
            p_fake = discriminator_targets(
                pred, peak, xy, present, mm, cfg.loss.tolerance_mm, cfg.loss.presence_threshold
            )
        # one forward over [real; generated] (DDP needs a single call)
        both = torch.cat([target, fake.detach()])
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            p_out = self.p(both, torch.cat([images, images])).float()
            c_out = self.c(both).float()
        n = len(target)
        loss_p = discriminator_loss(p_out[:n], p_out[n:], p_fake, weight)
        loss_c = discriminator_loss(c_out[:n], c_out[n:], p_fake, weight)
        if self.eager_checks:
            self.check_finite(loss_d_pose=loss_p, loss_d_confidence=loss_c)
        self.opt_d.zero_grad(set_to_none=True)
        (loss_p + loss_c).backward()
        self.opt_d.step()
        adv_p, adv_c = self._judged(fake, images, weight, keep_statistics=False)
        out.update(
            loss_d_pose=loss_p.detach(),
            loss_d_confidence=loss_c.detach(),
            loss_adv_pose=adv_p.detach(),
            loss_adv_confidence=adv_c.detach(),
            p_fake=p_fake.mean(),
        )
        return cfg.loss.beta * adv_p + cfg.loss.alpha * adv_c

    def _judged(self, fake, images, weight, keep_statistics: bool):
        """``(L_adv^P, L_adv^C)`` of generated heatmaps, the discriminators frozen (and, with
        ``keep_statistics``, run eagerly: swapping their buffers would recompile them)."""
        pose, confidence = self.nets["pose"], self.nets["confidence"]
        p, c = (pose, confidence) if keep_statistics else (self.p_plain, self.c_plain)
        with (
            frozen([pose, confidence], keep_statistics),
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp),
        ):
            adv_p = generator_adversarial_loss(p(fake, images).float(), weight)
            adv_c = generator_adversarial_loss(c(fake).float(), weight)
        return adv_p, adv_c

    def uses_unlabelled(self, epoch: int) -> bool:
        """Whether steps of ``epoch`` take an unlabelled batch."""
        if self.unlabelled is None:
            return False
        loss = self.cfg.loss
        adversarial = self.phase(epoch) == "adversarial" and loss.unlabelled_weight > 0
        return adversarial or loss.consistency_weight > 0

    def _unlabelled(self, epoch: int, step: int, seed: int, adversarial: bool, out) -> torch.Tensor:
        """The generator's terms on a batch of unlabelled images (no ground truth)."""
        cfg = self.cfg
        u_seed = (seed * 1_000_003 + 17) % (2**63 - 1)  # its own augmentation stream
        images, *_ = self.gather(self.unlabelled, self.unlabelled_order, step, u_seed)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            fake = self.g_plain(images)[-1].float()
        total = fake.new_zeros(())
        if adversarial and cfg.loss.unlabelled_weight > 0:
            every = torch.ones(fake.shape[:2], device=fake.device)  # all landmarks judged
            adv_p, adv_c = self._judged(fake, images, every, keep_statistics=True)
            term = cfg.loss.unlabelled_weight * (cfg.loss.beta * adv_p + cfg.loss.alpha * adv_c)
            out["loss_unlabelled"] = term.detach()
            total = total + term
        if cfg.loss.consistency_weight > 0:
            mirror = images.flip(-1).contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                back = self.g_plain(mirror)[-1].float().flip(-1)[:, self.flip_perm]
            consistency = (fake - back).square().mean()
            out["loss_consistency"] = consistency.detach()
            total = total + cfg.loss.consistency_weight * consistency
        return total
