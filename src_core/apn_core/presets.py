"""Named model configurations.

- ``seed``: the reference set-up of the method (8 stacks × 256 channels, square 256×256
  letterbox, 64×64 heatmaps, argmax decoding) — for comparison, not for CPUs.
- ``default``: the CPU-friendly model the project ships: a tall 512×192 letterbox (the
  ~2.6:1 radiograph fills it), 2 stacks × 64 channels, sub-pixel decoding.
- ``finetune``: ``default``'s networks with a short schedule (12 + 4 epochs) and lower
  learning rates (1e-3 / 1e-4), for ``apn train --init MODEL`` on 5–50 labelled images on
  a CPU (the model's own landmark set, geometry and network sizes replace the preset's).
  Chosen by fine-tuning the first-wave bundled model on 8 images whose knee convention was
  moved 10 mm: lr 2e-4 / 5e-4 / 1e-3 gave 0.89 / 0.86 / 0.79 mm test MRE, 6 + 2 epochs
  0.95–1.15 mm (``benchmarks/label_efficiency.py --knee-shift-mm`` measures that case).
- ``tiny``: a very small model for tests and smoke runs.

Every preset trains with the full augmentation of :class:`~apn_core.config.AugmentConfig`
(geometry, processing looks, distractors). On a GPU, ``seed``, ``default`` and ``tiny``
pick their batch for the device (``train.gpu_batch_size`` null, learning rates scaled by
``train.lr_scaling``); ``finetune`` keeps its 4 images per step everywhere (5–50 images
need steps, not throughput).
"""

from __future__ import annotations

from apn_core.config import GeneratorConfig, GeometryConfig, RunConfig, TrainConfig

PRESETS: dict[str, RunConfig] = {
    "seed": RunConfig(
        preset="seed",
        geometry=GeometryConfig(height=256, width=256, stride=4),
        generator=GeneratorConfig(stacks=8, channels=256, depth=4),
        decoding="argmax",
        train=TrainConfig(batch_size=8, lr=2.5e-4),
    ),
    "default": RunConfig(preset="default"),
    "finetune": RunConfig(
        preset="finetune",
        train=TrainConfig(
            epochs_pretrain=12,
            epochs_adversarial=4,
            batch_size=4,
            gpu_batch_size=4,
            lr=1e-3,
            lr_discriminator=1e-4,
            val_fraction=0.2,
            workers=0,
        ),
    ),
    "tiny": RunConfig(
        preset="tiny",
        geometry=GeometryConfig(height=256, width=96, stride=4),
        generator=GeneratorConfig(stacks=1, channels=32, depth=3),
        train=TrainConfig(batch_size=2, epochs_pretrain=10, epochs_adversarial=2, workers=0),
    ),
}


def get_preset(name: str) -> RunConfig:
    """A fresh copy of a preset (callers may change it)."""
    try:
        return RunConfig.from_dict(PRESETS[name].to_dict())
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
