"""How many images a step takes on this device, the learning rates that go with it, and
the order the images come in.

The rule (``train.batch_size`` b, the device batch B):

- on a CPU, B = b (fewer when the training set is smaller); nothing is scaled;
- on CUDA, B = ``train.gpu_batch_size``, or when that is null the largest power of two up
  to :data:`AUTO_BATCH_MAX` (and at most one pass over the training set) whose *measured*
  memory — one forward and backward of every network at 2 and 4 images — fits in
  :data:`MEMORY_SHARE` of the GPU;
- an epoch keeps b's steps (training images ÷ b), each of B images, so a GPU epoch shows
  every image about B/b times (augmented differently) and the schedule (epochs, cosine
  decay, validation) means the same on every device;
- the learning rates are multiplied by √(B/b) (``train.lr_scaling = "sqrt"``, the rule for
  Adam: Malladi et al., "On the SDEs and scaling rules for adaptive gradient algorithms",
  NeurIPS 2022), or B/b (``linear``, Goyal et al. 2017, for SGD) or not at all (``none``); a
  factor above 1 is reached by a linear warm-up over the first epoch.
"""

from __future__ import annotations

import copy
import logging
import math

import torch
from torch import nn

from apn_core.config import RunConfig

log = logging.getLogger(__name__)
AUTO_BATCH_MAX = 128
MEMORY_SHARE = 0.4


def reference_batch(config: RunConfig, n_images: int, world: int) -> int:
    """``train.batch_size``, at most the images each process has (≥ 1)."""
    return max(1, min(config.train.batch_size, n_images // world))


def steps_per_epoch(n_images: int, reference: int, world: int) -> int:
    return max(1, n_images // (reference * world))


def lr_scale(rule: str, batch: int, reference: int) -> float:
    """Factor on the learning rates for a device batch ``batch`` instead of ``reference``."""
    ratio = batch / reference
    return {"sqrt": math.sqrt(ratio), "linear": ratio, "none": 1.0}[rule]


def warmup(scale: float, global_step: int, steps: int) -> float:
    """The share of ``scale`` reached at ``global_step`` (0-based): from 1 (unscaled) to
    ``scale`` linearly over the first ``steps`` steps; exactly 1 when ``scale`` ≤ 1."""
    if scale <= 1:
        return 1.0
    done = min(1.0, (global_step + 1) / steps)
    return (1 + (scale - 1) * done) / scale


def epoch_order(n: int, count: int, seed: int, epoch: int, salt: int = 0) -> torch.Tensor:
    """At least ``count`` indices into ``n`` images for one epoch: permutations seeded by
    (seed, epoch, salt) laid end to end (the first one is the epoch's permutation of
    earlier versions, so a CPU run keeps its data order)."""
    base = seed * 100003 + epoch + salt * 7_919_000_003
    parts, total, i = [], 0, 0
    while total < count or not parts:
        gen = torch.Generator().manual_seed(base if i == 0 else base * 31 + i)
        parts.append(torch.randperm(n, generator=gen))
        total += n
        i += 1
    return torch.cat(parts)


def device_batch(
    config: RunConfig,
    nets: nn.ModuleDict,
    device: torch.device,
    n_images: int,
    world: int,
    unlabelled: bool = False,
) -> int:
    """Images per step on ``device`` (see the module doc)."""
    reference = reference_batch(config, n_images, world)
    if device.type != "cuda":
        return reference
    if config.train.gpu_batch_size is not None:
        return config.train.gpu_batch_size
    per_image = probe_memory(config, nets, device, unlabelled)
    total = torch.cuda.get_device_properties(device).total_memory
    budget = MEMORY_SHARE * total - torch.cuda.memory_allocated(device)
    fits = max(1, int(budget // max(per_image, 1)))
    limit = min(AUTO_BATCH_MAX, fits, max(reference, n_images // world))
    batch = 1 << (limit.bit_length() - 1)  # the largest power of two ≤ limit
    log.info(
        "automatic GPU batch %d (%.1f MB per image measured, %.1f GB budget)",
        batch,
        per_image / 1e6,
        budget / 1e9,
    )
    return batch


def probe_memory(
    config: RunConfig, nets: nn.ModuleDict, device: torch.device, unlabelled: bool
) -> float:
    """Peak CUDA bytes per image of one forward/backward of all networks under bf16
    autocast, measured at 4 images on a copy of ``nets`` (their state is untouched)."""
    trial = copy.deepcopy(nets)
    g = config.geometry
    n = 8 if unlabelled else 4  # the unlabelled batch doubles the generator's activations
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    x = torch.rand(n, 1, g.height, g.width, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        outs = trial["generator"](x)
        hm = outs[-1].float()
        loss = sum(o.float().square().mean() for o in outs)
        loss = loss + trial["pose"](hm, x).float().mean() + trial["confidence"](hm).float().mean()
    loss.backward()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - base
    del trial, x, outs, hm, loss
    torch.cuda.empty_cache()
    return peak / 4
