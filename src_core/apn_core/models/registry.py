"""Build the three networks of a run from its config; name ↔ weights for safetensors."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from apn_core.config import RunConfig
from apn_core.models.discriminators import ConfidenceDiscriminator, PoseDiscriminator
from apn_core.models.hourglass import StackedHourglass


@dataclass
class Networks:
    generator: StackedHourglass
    pose: PoseDiscriminator
    confidence: ConfidenceDiscriminator

    def items(self) -> list[tuple[str, nn.Module]]:
        return [("generator", self.generator), ("pose", self.pose), ("confidence", self.confidence)]

    def state_dict(self) -> dict:
        """One flat dict ``"<network>.<param>" → tensor`` (safetensors-ready, contiguous)."""
        return {
            f"{name}.{k}": v.detach().contiguous().cpu()
            for name, net in self.items()
            for k, v in net.state_dict().items()
        }

    def load_state_dict(self, flat: dict) -> None:
        for name, net in self.items():
            prefix = name + "."
            part = {k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)}
            if part:
                net.load_state_dict(part)

    def to(self, *args, **kwargs) -> Networks:
        for _, net in self.items():
            net.to(*args, **kwargs)
        return self


def build_networks(config: RunConfig) -> Networks:
    k = len(config.landmarks)
    g, d = config.generator, config.discriminator
    return Networks(
        generator=StackedHourglass(k, g.stacks, g.channels, g.depth, config.geometry.stride),
        pose=PoseDiscriminator(k, d.channels, d.layers),
        confidence=ConfidenceDiscriminator(k, d.channels, d.layers),
    )
