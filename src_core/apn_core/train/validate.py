"""Validation of a generator on letterboxed tensors: errors in mm, PCK, absent handling."""

from __future__ import annotations

import numpy as np
import torch

from apn_core.heatmaps import decode
from apn_core.metrics import radial_errors_mm, summarise
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
    """Input-pixel (x, y) ``(N, K, 2)`` and peak values ``(N, K)`` from the last stack."""
    device = device or torch.device("cpu")
    was_training = generator.training
    generator.eval()
    xys, peaks = [], []
    for start in range(0, len(images), batch):
        x = (
            images[start : start + batch]
            .to(device)
            .float()
            .contiguous(memory_format=torch.channels_last)
        )
        xy, peak = decode(generator(x)[-1].float(), stride, decoding)
        xys.append(xy.cpu())
        peaks.append(peak.cpu())
    generator.train(was_training)
    return torch.cat(xys), torch.cat(peaks)


def validation_metrics(
    xy: torch.Tensor,
    peak: torch.Tensor,
    data: TrainingTensors,
    names: tuple[str, ...],
    presence_threshold: float,
) -> dict:
    """MRE/PCK over landmarks present in the truth (wherever the model put them), plus how
    many truly-absent landmarks were reported present and present ones reported absent."""
    err = radial_errors_mm(xy.numpy(), data.xy.numpy(), data.mm_per_px.numpy())
    present = data.present.numpy()
    err = np.where(present, err, np.nan)
    out = summarise(err, names)
    said_present = peak.numpy() >= presence_threshold
    absent = data.annotated.numpy() & ~present
    out["absent_reported_present"] = int((absent & said_present).sum())
    out["absent_total"] = int(absent.sum())
    out["present_reported_absent"] = int((present & ~said_present).sum())
    occluded = data.occluded.numpy() & present
    if occluded.any():
        out["occluded"] = summarise(np.where(occluded, err, np.nan), names)["all"]
    return out
