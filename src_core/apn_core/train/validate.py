"""Validation of a generator on letterboxed tensors, scored like ``apn evaluate``."""

from __future__ import annotations

import numpy as np
import torch

from apn_core.heatmaps import decode
from apn_core.metrics import score
from apn_core.train.data import TrainingTensors


@torch.no_grad()
def predict_tensors(
    generator,
    images: torch.Tensor,
    stride: int,
    decoding: str,
    batch: int = 16,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input-pixel (x, y) ``(N, K, 2)`` and peak values ``(N, K)`` from the last stack, on
    the CPU. The batches are decoded on ``device`` and gathered there: one read-back at the
    end (images already on the device are not copied)."""
    device = device or torch.device("cpu")
    was_training = generator.training
    generator.eval()
    xys, peaks = [], []
    for start in range(0, len(images), batch):
        x = images[start : start + batch].to(device, non_blocking=True).float()
        x = x.contiguous(memory_format=torch.channels_last)
        xy, peak = decode(generator(x)[-1].float(), stride, decoding)  # float32, as inference
        xys.append(xy)
        peaks.append(peak)
    generator.train(was_training)
    if not xys:
        return torch.zeros(0, 0, 2), torch.zeros(0, 0)
    return torch.cat(xys).cpu(), torch.cat(peaks).cpu()


def validation_metrics(
    xy: torch.Tensor,
    peak: torch.Tensor,
    data: TrainingTensors,
    names: tuple[str, ...],
    presence_threshold: float,
    tolerance_mm: float = 10.0,
    thresholds: tuple[float, ...] = (10.0, 20.0),
) -> dict:
    """:func:`apn_core.metrics.score` of decoded positions on letterboxed tensors: a
    landmark whose peak is below ``presence_threshold`` is reported absent, as at inference."""
    pred = xy.numpy().astype(float)
    pred[peak.numpy() < presence_threshold] = np.nan
    present = data.present.numpy()
    return score(
        pred,
        data.xy.numpy(),
        present,
        data.annotated.numpy() & ~present,
        data.mm_per_px.numpy(),
        names,
        thresholds,
        occluded=data.occluded.numpy(),
        tolerance_mm=tolerance_mm,
    )
