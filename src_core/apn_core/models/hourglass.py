"""Stacked hourglass generator (Newell et al. 2016) with intermediate supervision."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _unit(cin: int, cout: int, kernel: int, bias: bool = False) -> list[nn.Module]:
    """BN → ReLU → conv (pre-activation), size-preserving."""
    conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)
    return [nn.BatchNorm2d(cin), nn.ReLU(inplace=True), conv]


class Residual(nn.Module):
    """Pre-activation bottleneck residual block (BN-ReLU-conv 1×1, 3×3, 1×1)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = max(cout // 2, 1)
        self.body = nn.Sequential(
            *_unit(cin, mid, 1), *_unit(mid, mid, 3), *_unit(mid, cout, 1, bias=True)
        )
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    """One hourglass: ``depth`` levels of pool → residual → (recurse) → upsample, with skips."""

    def __init__(self, depth: int, channels: int) -> None:
        super().__init__()
        self.up1 = Residual(channels, channels)
        self.low1 = Residual(channels, channels)
        self.low2 = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.low3 = Residual(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2, ceil_mode=True))))
        return self.up1(x) + F.interpolate(low, size=x.shape[-2:], mode="nearest")


class StackedHourglass(nn.Module):
    """Grayscale image ``(B, 1, H, W)`` → list of ``stacks`` heatmap tensors ``(B, K, H/s, W/s)``.

    The stem reduces the input by ``stride`` (a 7×7 stride-2 conv, then max pools); every
    stack predicts heatmaps that feed the next (intermediate supervision).
    """

    def __init__(
        self, n_landmarks: int, stacks: int = 2, channels: int = 64, depth: int = 4, stride: int = 4
    ) -> None:
        super().__init__()
        quarter = max(channels // 4, 8)
        stem: list[nn.Module] = []
        if stride >= 2:
            stem += [
                nn.Conv2d(1, quarter, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(quarter),
                nn.ReLU(inplace=True),
            ]
        else:
            stem += [
                nn.Conv2d(1, quarter, 7, padding=3, bias=False),
                nn.BatchNorm2d(quarter),
                nn.ReLU(inplace=True),
            ]
        stem.append(Residual(quarter, channels // 2))
        for _ in range(int(math.log2(stride)) - 1):
            stem.append(nn.MaxPool2d(2))
        stem += [Residual(channels // 2, channels // 2), Residual(channels // 2, channels)]
        self.stem = nn.Sequential(*stem)
        self.hourglasses = nn.ModuleList(Hourglass(depth, channels) for _ in range(stacks))
        self.features = nn.ModuleList(
            nn.Sequential(
                Residual(channels, channels),
                nn.Conv2d(channels, channels, 1),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )
            for _ in range(stacks)
        )
        self.heads = nn.ModuleList(nn.Conv2d(channels, n_landmarks, 1) for _ in range(stacks))
        self.merge_features = nn.ModuleList(
            nn.Conv2d(channels, channels, 1) for _ in range(stacks - 1)
        )
        self.merge_heatmaps = nn.ModuleList(
            nn.Conv2d(n_landmarks, channels, 1) for _ in range(stacks - 1)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outputs = []
        for i, (hg, feat, head) in enumerate(
            zip(self.hourglasses, self.features, self.heads, strict=True)
        ):
            f = feat(hg(x))
            heatmaps = head(f)
            outputs.append(heatmaps)
            if i < len(self.merge_features):
                x = x + self.merge_features[i](f) + self.merge_heatmaps[i](heatmaps)
        return outputs
