"""The three networks of a run as one ``nn.ModuleDict`` and their strict loading.

``build_networks(config)["generator" | "pose" | "confidence"]``; the state dict's keys are
``"<network>.<parameter>"``, exactly the keys of a weights file. Loading is strict: every
key of the model must be in the file with its shape and nothing else may be — except that
an inference bundle may leave out a whole network that inference does not use (the pose
discriminator). A ``module.`` prefix left by DistributedDataParallel is stripped knowingly.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from apn_core.config import RunConfig
from apn_core.errors import FileProblem
from apn_core.models.discriminators import ConfidenceDiscriminator, PoseDiscriminator
from apn_core.models.hourglass import StackedHourglass
from apn_core.models.trust import mismatch, table_of

NETWORKS = ("generator", "pose", "confidence")
INFERENCE_OPTIONAL = ("pose",)  # the bundled model ships generator + confidence only


def build_networks(config: RunConfig) -> nn.ModuleDict:
    """Generator, pose and confidence discriminators of ``config``, freshly initialised
    (from torch's global generator: seed it for reproducible weights)."""
    k = len(config.landmarks)
    g, d = config.generator, config.discriminator
    return nn.ModuleDict(
        {
            "generator": StackedHourglass(k, g.stacks, g.channels, g.depth, config.geometry.stride),
            "pose": PoseDiscriminator(k, d.channels, d.layers),
            "confidence": ConfidenceDiscriminator(k, d.channels, d.layers),
        }
    )


def weights_of(nets: nn.Module) -> dict[str, torch.Tensor]:
    """A flat ``"<network>.<param>"`` → CPU tensor dict, contiguous (safetensors-ready)."""
    return {k: v.detach().contiguous().cpu() for k, v in nets.state_dict().items()}


def strip_ddp_prefix(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the ``module.`` that DistributedDataParallel puts in front of parameter names,
    at the start (``module.generator.x``) or after the network (``generator.module.x``)."""
    out = {}
    for key, value in weights.items():
        parts = [p for i, p in enumerate(key.split(".")) if not (p == "module" and i < 2)]
        out[".".join(parts)] = value
    return out


def load_networks(
    nets: nn.ModuleDict,
    weights: dict[str, torch.Tensor],
    path: str | Path,
    optional: tuple[str, ...] = (),
) -> list[str]:
    """Load ``weights`` into ``nets`` strictly; returns the optional networks left out.

    ``optional`` networks may be absent as a whole (never in part). Anything else missing,
    unexpected, of the wrong shape or of another dtype raises :class:`FileProblem` on
    ``path`` naming a few keys and their counts — a file that does not match is never
    half-loaded (:func:`apn_core.models.trust.mismatch`).
    """
    weights = strip_ddp_prefix(weights)
    problems, left_out = mismatch(table_of(nets.state_dict()), table_of(weights), optional)
    if problems:
        raise FileProblem(
            path, "weights do not match the model in its config.json: " + "; ".join(problems)
        )
    for name, net in nets.items():
        if name in left_out:
            continue
        prefix = name + "."
        net.load_state_dict(
            {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}, strict=True
        )
    return left_out
