"""The configuration tree of a model/run: one dataclass per concern, saved with every run.

A run folder's ``config.json`` is ``RunConfig.to_dict()``; presets are named
``RunConfig`` instances (:mod:`apn_core.presets`), not copied scripts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet


@dataclass
class GeometryConfig:
    """Network input. The radiograph is letterboxed (aspect ratio kept, centred, zero
    padded) into ``height × width`` pixels; heatmaps are ``stride`` times smaller.

    Long-leg radiographs are ~2.6:1, so a tall input (e.g. 512×192) uses its pixels for
    anatomy where a square 256×256 input is mostly padding.
    """

    height: int = 512
    width: int = 192
    stride: int = 4

    def __post_init__(self) -> None:
        if self.stride not in (1, 2, 4, 8):
            raise ValueError(f"stride must be 1, 2, 4 or 8, got {self.stride}")
        if self.height % self.stride or self.width % self.stride:
            raise ValueError("input height and width must be multiples of the stride")

    @property
    def heatmap_shape(self) -> tuple[int, int]:
        return self.height // self.stride, self.width // self.stride


@dataclass
class GeneratorConfig:
    """Stacked hourglass (Newell et al.): ``stacks`` hourglasses of ``depth`` levels with
    ``channels`` features, each supervised (intermediate supervision)."""

    stacks: int = 2
    channels: int = 64
    depth: int = 4


@dataclass
class DiscriminatorConfig:
    """Pose (heatmaps + image) and confidence (heatmaps only) discriminators: ``layers``
    strided conv blocks starting at ``channels`` features, then a K-vector of sigmoids."""

    channels: int = 32
    layers: int = 4


@dataclass
class LossConfig:
    """Heatmap and adversarial losses.

    sigma: Gaussian width of target heatmaps, in heatmap pixels.
    alpha / beta: weights of the confidence / pose adversarial terms in the generator
        loss (the reference used α = 1/220, β = 1/138 … 1/180).
    tolerance_mm: a generated landmark within this distance of the truth is "correct"
        (its discriminator target p_fake / c_fake is 1).
    presence_threshold: a heatmap whose maximum is below this reports "absent".
    foreground_weight: γ in the heatmap loss weight (1 + γ·target); 0 = plain MSE.
    """

    sigma: float = 1.5
    foreground_weight: float = 10.0
    alpha: float = 1 / 220
    beta: float = 1 / 180
    tolerance_mm: float = 10.0
    presence_threshold: float = 0.3


@dataclass
class AugmentConfig:
    """Landmark-consistent augmentation, applied per batch (kornia for the affine warp).

    Flips swap left/right landmarks; occluders are bright metal-like shapes drawn over
    random landmarks with probability ``occluder_prob`` per image.
    """

    rotation_deg: float = 8.0
    scale: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.04
    flip_prob: float = 0.5
    gamma: tuple[float, float] = (0.7, 1.4)
    contrast: tuple[float, float] = (0.8, 1.2)
    noise_std: float = 0.02
    occluder_prob: float = 0.25
    enabled: bool = True


@dataclass
class TrainConfig:
    """The training job.

    epochs_pretrain: supervised epochs (heatmap MSE only) before the adversarial phase.
    epochs_adversarial: epochs with the pose and confidence discriminators.
    lr / lr_discriminator: Adam learning rates (cosine-decayed per epoch).
    val_fraction: share of the labelled folder held out for validation (deterministic
        by ``seed``), unless a separate validation folder is given.
    max_minutes: stop cleanly (with a checkpoint) after this many minutes of this
        invocation; ``--resume`` starts a new budget.
    stop_after_steps: stop as if interrupted after this many steps (tests, debugging).
    """

    epochs_pretrain: int = 40
    epochs_adversarial: int = 20
    batch_size: int = 8
    lr: float = 2e-3
    lr_discriminator: float = 2e-4
    val_fraction: float = 0.1
    seed: int = 0
    workers: int = 2
    max_minutes: float | None = None
    stop_after_steps: int | None = None
    adversarial: bool = True


@dataclass
class RunConfig:
    """Everything that defines a model; ``config.json`` of a run folder."""

    preset: str = "default"
    landmarks: LandmarkSet = field(default_factory=lambda: DEFAULT_LANDMARKS)
    geometry: GeometryConfig = field(default_factory=GeometryConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decoding: str = "quadratic"  # "argmax" (the reference) or "quadratic" (sub-pixel)
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, LandmarkSet):
                out[f.name] = value.to_dict()
            elif dataclasses.is_dataclass(value):
                out[f.name] = dataclasses.asdict(value)
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in d:
                continue
            value = d[f.name]
            if f.name == "landmarks":
                kwargs[f.name] = LandmarkSet.from_dict(value)
            elif isinstance(value, dict):
                sub = _SECTIONS[f.name]
                known = {x.name for x in dataclasses.fields(sub)}
                unknown = set(value) - known
                if unknown:
                    raise ValueError(f"unknown {f.name} setting(s): {', '.join(sorted(unknown))}")
                kwargs[f.name] = sub(
                    **{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
                )
            else:
                kwargs[f.name] = value
        return cls(**kwargs)

    def replace(self, **sections: dict[str, Any]) -> RunConfig:
        """A copy with some fields of some sections changed: ``cfg.replace(train={"lr": 1e-3})``."""
        d = self.to_dict()
        for section, changes in sections.items():
            if isinstance(d.get(section), dict):
                d[section] = {**d[section], **changes}
            else:
                d[section] = changes
        return RunConfig.from_dict(d)

    def with_settings(self, settings: list[str]) -> RunConfig:
        """A copy with ``["section.key=value", ...]`` applied (``apn train --set``).

        Values are JSON (``1e-3``, ``true``, ``[0.9, 1.1]``, ``null``); anything that is not
        JSON is taken as a string. Raises ``ValueError`` naming the bad setting.
        """
        sections: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for item in settings:
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{item!r} is not SECTION.KEY=VALUE")
            try:
                value = json.loads(text)
            except ValueError:
                value = text
            section, dot, name = key.strip().partition(".")
            if dot:
                if section not in _SECTIONS:
                    raise ValueError(
                        f"{item!r}: unknown section {section!r}; known: {', '.join(_SECTIONS)}"
                    )
                sections.setdefault(section, {})[name] = value
            elif section in ("decoding",):
                top[section] = value
            else:
                raise ValueError(f"{item!r}: give SECTION.KEY (e.g. train.lr=1e-3)")
        return self.replace(**sections, **top)


_SECTIONS = {
    "geometry": GeometryConfig,
    "generator": GeneratorConfig,
    "discriminator": DiscriminatorConfig,
    "loss": LossConfig,
    "augment": AugmentConfig,
    "train": TrainConfig,
}
