"""Predict over many files at full throughput: DataLoader workers read and letterbox,
the main process runs the network on batches. A file that cannot be read is reported
(with its reason) and skipped; it never stops the batch.

Pixel spacing follows one rule everywhere (:class:`SpacingPolicy`): a file's own spacing
wins; ``fallback`` (``--spacing``) is used only for files without one; ``override``
(``--override-spacing``) replaces every file's spacing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from apn_core.errors import ApnError
from apn_core.geometry import Letterbox
from apn_core.inference.predictor import Prediction, Predictor
from apn_core.io import Radiograph, read_radiograph

log = logging.getLogger(__name__)

SPACING_TOLERANCE = 0.01  # relative difference at which a file's and the given spacing disagree
FALLBACK_SOURCE = "given (--spacing; the file has none)"
OVERRIDE_SOURCE = "given (--override-spacing, replacing the file's)"

Spacing = tuple[float, float]


@dataclass(frozen=True)
class SpacingPolicy:
    """Where an image's mm/px comes from: the file, else ``fallback``; ``override`` beats both."""

    fallback: Spacing | None = None
    override: Spacing | None = None

    @classmethod
    def of(cls, spacing: SpacingPolicy | float | Spacing | None) -> SpacingPolicy:
        """Accept a policy, or a plain spacing meaning a fallback (as ``--spacing``)."""
        if isinstance(spacing, SpacingPolicy):
            return spacing
        if spacing is None:
            return cls()
        values = np.atleast_1d(np.asarray(spacing, dtype=float)).ravel()
        return cls(fallback=(float(values[0]), float(values[-1])))

    def read(self, path: Path) -> tuple[Radiograph, str, str | None]:
        """The radiograph with its spacing applied, where it came from (``file``,
        ``fallback``, ``override`` or ``none``) and a note when ``fallback`` disagrees
        with the file's own spacing by more than 1 %."""
        # read_radiograph's own ``spacing`` argument is not used: its meaning (override or
        # fallback) is the io module's; applying the rule here keeps it one rule for the CLI
        radiograph = read_radiograph(path)
        if self.override is not None:
            return radiograph.with_spacing(self.override, OVERRIDE_SOURCE), "override", None
        if radiograph.spacing is None:
            if self.fallback is None:
                return radiograph, "none", None
            return radiograph.with_spacing(self.fallback, FALLBACK_SOURCE), "fallback", None
        note = None
        if self.fallback is not None and _disagree(radiograph.spacing, self.fallback):
            note = (
                f"the file's spacing {_mm(radiograph.spacing)} ({radiograph.spacing_source}) "
                f"differs from --spacing {_mm(self.fallback)}; the file's is used "
                "(--override-spacing replaces it)"
            )
        return radiograph, "file", note

    def as_dict(self) -> dict:
        return {
            "fallback_spacing": list(self.fallback) if self.fallback else None,
            "override_spacing": list(self.override) if self.override else None,
        }


def _disagree(a: Spacing, b: Spacing) -> bool:
    return any(abs(x - y) > SPACING_TOLERANCE * y for x, y in zip(a, b, strict=True))


def _mm(spacing: Spacing) -> str:
    row, col = spacing
    return f"{row:g} mm/px" if row == col else f"{row:g}×{col:g} mm/px"


@dataclass
class BatchResult:
    """One file's outcome: a prediction, or the reason it failed (``error``)."""

    path: Path
    prediction: Prediction | None
    error: str | None = None
    spacing_from: str = ""  # file | fallback | override | none
    spacing_note: str | None = None
    overlay_base: np.ndarray | None = None  # (h, w) uint8 picture for overlays, when asked


@dataclass
class _Prepared:
    """What a reader worker hands the main process for one file."""

    path: Path
    tensor: torch.Tensor | None = None
    box: Letterbox | None = None
    spacing: Spacing | None = None
    spacing_source: str = ""
    spacing_from: str = ""
    spacing_note: str | None = None
    overlay_base: np.ndarray | None = None
    error: str | None = None


class _Reader(Dataset):
    def __init__(
        self,
        predictor: Predictor,
        paths: list[Path],
        policy: SpacingPolicy,
        overlay_height: int | None,
    ) -> None:
        self.predictor, self.paths, self.policy = predictor, paths, policy
        self.overlay_height = overlay_height

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> _Prepared:
        path = self.paths[i]
        try:
            r, spacing_from, note = self.policy.read(path)
            tensor, box = self.predictor.prepare(r.pixels)
            base = None
            if self.overlay_height:
                from apn_core.inference.overlay import overlay_base

                base = overlay_base(r.pixels, self.overlay_height)
            return _Prepared(
                path, tensor, box, r.spacing, r.spacing_source, spacing_from, note, base
            )
        except ApnError as exc:
            return _Prepared(path, error=str(exc))
        except Exception as exc:  # one odd file must not stop a batch of thousands
            log.debug("unexpected error on %s", path, exc_info=True)
            return _Prepared(path, error=f"unexpected error ({type(exc).__name__}: {exc})")


def _collate(items):
    return items


def predict_files(
    predictor: Predictor,
    paths: list[Path],
    spacing: SpacingPolicy | float | Spacing | None = None,
    batch_size: int = 4,
    workers: int = 0,
    overlay_height: int | None = None,
) -> Iterator[BatchResult]:
    """Yield one :class:`BatchResult` per path, in order.

    ``spacing``: a :class:`SpacingPolicy`, or one spacing used as a fallback for files
    without their own. ``overlay_height``: also return a small picture for overlays (made
    in the reader workers, so the file is read once).
    """
    policy = SpacingPolicy.of(spacing)
    reader = _Reader(predictor, list(paths), policy, overlay_height)
    loader = DataLoader(reader, batch_size=batch_size, num_workers=workers, collate_fn=_collate)
    for items in loader:
        good = [it for it in items if it.error is None]
        outputs = {}
        if good:
            out = predictor.forward(torch.stack([it.tensor for it in good]))
            for j, it in enumerate(good):
                try:
                    outputs[id(it)] = predictor.finish(
                        out.sample(j), it.box, it.spacing, it.spacing_source, str(it.path)
                    )
                except (ApnError, ValueError, ArithmeticError) as exc:  # this file, not the batch
                    log.debug("cannot finish %s", it.path, exc_info=True)
                    it.error = f"{it.path}: cannot measure the prediction ({exc})"
        for it in items:
            yield BatchResult(
                it.path,
                outputs.get(id(it)),
                it.error,
                it.spacing_from,
                it.spacing_note,
                it.overlay_base,
            )
