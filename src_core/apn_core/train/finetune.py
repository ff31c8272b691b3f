"""Fine-tuning: start a new run from another model's weights (``apn train --init MODEL``).

MODEL is a bundled key (``default``) or a run folder (its ``best`` weights, else ``last``).
The new run takes the source's *model* settings — landmark set, geometry, networks, loss,
decoding (:data:`MODEL_SECTIONS`) — under its own training schedule (the ``finetune``
preset unless another is chosen); options given explicitly still win. Every weight is
copied from the source, except:

- a network the source does not ship (the bundled model has no pose discriminator) starts
  fresh;
- with a different landmark set, the layers whose shape depends on the number of landmarks
  K (the generator's output heads and the 1×1 convs feeding heatmaps back, the
  discriminators' input convs and output layers) start fresh; every other weight is the
  source's.

The generator and discriminator sizes must be the source's (the weights would not fit);
the input size and stride may differ (the networks are fully convolutional). The run's
``config.json`` records the source, its weights file and SHA-256, and what started fresh
(``init``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from apn_core import runs
from apn_core.config import InitSource, RunConfig
from apn_core.errors import FileProblem
from apn_core.inference.model_store import resolve, sha256
from apn_core.landmarks import LandmarkSet
from apn_core.models import build_networks, load_networks, trust
from apn_core.models.networks import INFERENCE_OPTIONAL, strip_ddp_prefix

MODEL_SECTIONS = ("landmarks", "geometry", "generator", "discriminator", "loss", "decoding")
ARCHITECTURE = ("generator", "discriminator")


@dataclass
class InitWeights:
    """The source's weights, checked, and what must start fresh in the new networks."""

    source_weights: dict[str, torch.Tensor]
    fresh_modules: set[str]  # "<network>.<module path>" prefixes, or whole network names
    record: InitSource
    trained: frozenset[str] = frozenset()  # discriminators that come trained, none fresh

    def merged_with(self, fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Complete weights for the new networks: the source's, except the fresh parts
        taken from ``fresh`` (the new networks' own initial weights)."""
        out = {}
        for key, value in fresh.items():
            if any(key == m or key.startswith(m + ".") for m in self.fresh_modules):
                out[key] = value
            else:
                out[key] = self.source_weights[key]
        return out


def model_settings(model: str | Path) -> dict:
    """The source model's :data:`MODEL_SECTIONS` as config-dict entries (to lay over a preset)."""
    config = resolve(model).config.to_dict()
    return {k: config[k] for k in MODEL_SECTIONS}


def prepare(model: str | Path, config: RunConfig, expect_sha256: str | None = None) -> InitWeights:
    """Read and check the source of ``--init`` for a run of ``config``.

    :class:`FileProblem` when the source cannot be used: unreadable or mismatched weights,
    other network sizes, or (``expect_sha256``) weights changed since they were recorded.
    """
    source = resolve(model)
    digest = sha256(source.weights)
    if expect_sha256 is not None and digest != expect_sha256:
        raise FileProblem(
            source.weights,
            f"has changed since this run was initialised from it (SHA-256 {digest[:12]}…, "
            f"recorded {expect_sha256[:12]}…); start a new run with --init",
        )
    for section in ARCHITECTURE:
        mine, theirs = getattr(config, section), getattr(source.config, section)
        if mine != theirs:
            raise FileProblem(
                source.weights,
                f"--init needs the source's {section} settings ({theirs}), got {mine}: a "
                "fine-tuned model keeps its source's network sizes",
            )
    trust.check_fits(source.weights, source.config, INFERENCE_OPTIONAL)  # before building
    checkpoint = runs.read_checkpoint(source.weights)
    weights = strip_ddp_prefix(checkpoint.weights)
    trust.check_values(weights, source.weights)
    left_out = load_networks(
        build_networks(source.config), weights, source.weights, INFERENCE_OPTIONAL
    )
    fresh = set(left_out)
    if config.landmarks.names != source.config.landmarks.names:
        fresh |= landmark_dependent_modules(config)
    record = InitSource(
        model=str(model),
        source=source.name if source.name.startswith("bundled:") else str(Path(model).resolve()),
        weights=str(source.weights),
        weights_sha256=digest,
        reinitialised=tuple(sorted(fresh)),
    )
    trained = runs.trained_discriminators(checkpoint, source.config.train.epochs_pretrain)
    renewed = {module.split(".")[0] for module in fresh}
    return InitWeights(weights, fresh, record, frozenset(trained - renewed))


def landmark_dependent_modules(config: RunConfig) -> set[str]:
    """Modules (``"generator.heads.0"``, ...) with a parameter whose shape depends on the
    number of landmarks: found by building the networks for K and K + 1 landmarks (on the
    meta device: no memory, no compute) and comparing shapes."""

    def shapes(n: int) -> dict[str, torch.Size]:
        names = tuple(f"l{i}" for i in range(n))
        with torch.device("meta"):
            nets: nn.ModuleDict = build_networks(
                RunConfig.from_dict({**config.to_dict(), "landmarks": LandmarkSet(names).to_dict()})
            )
        return {k: v.shape for k, v in nets.state_dict().items()}

    k = len(config.landmarks)
    a, b = shapes(k), shapes(k + 1)
    return {key.rsplit(".", 1)[0] for key in a if a[key] != b[key]}
