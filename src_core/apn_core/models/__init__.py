"""Networks of the Adversarial PoseNet: the stacked-hourglass generator and the pose and
confidence discriminators, built from a :class:`~apn_core.config.RunConfig`."""

from apn_core.models.discriminators import ConfidenceDiscriminator, PoseDiscriminator
from apn_core.models.hourglass import StackedHourglass
from apn_core.models.networks import NETWORKS, build_networks, load_networks, weights_of

__all__ = [
    "NETWORKS",
    "ConfidenceDiscriminator",
    "PoseDiscriminator",
    "StackedHourglass",
    "build_networks",
    "load_networks",
    "weights_of",
]
