"""The two discriminators of Adversarial PoseNet, each giving a K-vector in (0, 1).

- Pose discriminator P(y, x): heatmaps **and** the image (downsampled to heatmap size):
  judges whether the landmark configuration is plausible for this radiograph.
- Confidence discriminator C(y): heatmaps only: judges whether each heatmap looks like a
  confident, well-formed peak.

Both are strided conv encoders (conv-BN-LeakyReLU, halving the size per layer), global
average pooling and a linear layer to K sigmoids — lighter than the reference's
hourglass-shaped discriminators, which matters on CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _encoder(cin: int, channels: int, layers: int, n_out: int) -> nn.Sequential:
    blocks: list[nn.Module] = []
    c = cin
    for i in range(layers):
        cout = channels * 2 ** min(i, 3)
        blocks += [
            nn.Conv2d(c, cout, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        c = cout
    blocks += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_out)]
    return nn.Sequential(*blocks)


class PoseDiscriminator(nn.Module):
    """``(heatmaps (B,K,h,w), image (B,1,H,W))`` → ``(B, K)`` probabilities."""

    def __init__(self, n_landmarks: int, channels: int = 32, layers: int = 4) -> None:
        super().__init__()
        self.net = _encoder(n_landmarks + 1, channels, layers, n_landmarks)

    def forward(self, heatmaps: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        small = F.adaptive_avg_pool2d(image, heatmaps.shape[-2:])
        return torch.sigmoid(self.net(torch.cat([heatmaps, small], dim=1)))


class ConfidenceDiscriminator(nn.Module):
    """``heatmaps (B,K,h,w)`` → ``(B, K)`` probabilities."""

    def __init__(self, n_landmarks: int, channels: int = 32, layers: int = 4) -> None:
        super().__init__()
        self.net = _encoder(n_landmarks, channels, layers, n_landmarks)

    def forward(self, heatmaps: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(heatmaps))
