"""Predict over many files at full throughput: DataLoader workers read and letterbox,
the main process runs the network on batches. A file that cannot be read is reported
(with its reason) and skipped; it never stops the batch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from apn_core.errors import ApnError
from apn_core.inference.predictor import Prediction, Predictor
from apn_core.io import read_radiograph


@dataclass
class BatchResult:
    path: Path
    prediction: Prediction | None
    error: str | None = None


class _Prepared(Dataset):
    def __init__(self, predictor: Predictor, paths: list[Path], spacing) -> None:
        self.predictor, self.paths, self.spacing = predictor, paths, spacing

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        path = self.paths[i]
        try:
            r = read_radiograph(path, self.spacing, "given (--spacing)")
            tensor, box = self.predictor.prepare(r.pixels)
            return path, tensor, box, r.spacing, r.spacing_source, None
        except ApnError as exc:
            return path, None, None, None, "", str(exc)


def _collate(items):
    return items


def predict_files(predictor: Predictor, paths: list[Path], spacing=None, batch_size: int = 4,
                  workers: int = 0) -> Iterator[BatchResult]:  # fmt: skip
    """Yield one :class:`BatchResult` per path, in order."""
    loader = DataLoader(_Prepared(predictor, list(paths), spacing), batch_size=batch_size, num_workers=workers,
                        collate_fn=_collate)  # fmt: skip
    for items in loader:
        good = [it for it in items if it[5] is None]
        outputs = {}
        if good:
            out = predictor.forward(torch.stack([it[1] for it in good]))
            for j, (path, _, box, sp, source, _) in enumerate(good):
                outputs[path] = predictor.finish(out.sample(j), box, sp, source, str(path))
        for path, _, _, _, _, error in items:
            yield BatchResult(path, outputs.get(path), error)
