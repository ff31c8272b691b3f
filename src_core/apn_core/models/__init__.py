"""Networks of the Adversarial PoseNet: the stacked-hourglass generator and the pose and
confidence discriminators, built from a :class:`~apn_core.config.RunConfig`."""

from apn_core.models.discriminators import ConfidenceDiscriminator, PoseDiscriminator
from apn_core.models.hourglass import StackedHourglass
from apn_core.models.registry import Networks, build_networks

__all__ = [
    "ConfidenceDiscriminator",
    "Networks",
    "PoseDiscriminator",
    "StackedHourglass",
    "build_networks",
]
