"""Predict over many files at full throughput: DataLoader workers read and letterbox,
the main process runs the network on batches. A file that cannot be read is reported
(with its reason) and skipped; it never stops the batch.

Pixel spacing follows one rule everywhere (:class:`SpacingPolicy`): a file's own spacing
wins; for a file without one (PNG, JPEG), the ``spacing_mm`` its folder's
``landmarks.csv`` gives it (which then counts as the file's own), else a calibration object
on the film (a ruler, a ball: :mod:`apn_core.calibration_object.resolve`; one whose
reading is implausible against ``fallback`` is refused), else ``fallback``
(``--spacing``); ``override`` (``--override-spacing``) replaces every file's spacing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from apn_core.calibration_object.choice import AUTO, ObjectChoice
from apn_core.calibration_object.resolve import ObjectSpacing, apply_object
from apn_core.config import GeometryConfig
from apn_core.errors import ApnError
from apn_core.geometry import Letterbox, network_input
from apn_core.inference.predictor import Prediction, Predictor
from apn_core.io import Radiograph, read_radiograph
from apn_core.spacing import spacings_disagree
from apn_core.utils.workers import as_list, data_loader

log = logging.getLogger(__name__)

FALLBACK_SOURCE = "given (--spacing; the file has none)"
OVERRIDE_SOURCE = "given (--override-spacing, replacing the file's)"
LABELLED_SOURCE = "spacing_mm in its folder's landmarks.csv (the file has none)"

Spacing = tuple[float, float]


@dataclass(frozen=True)
class SpacingPolicy:
    """Where an image's mm/px comes from: the file, else ``labelled`` (``spacing_mm`` of
    its folder's ``landmarks.csv``, keyed by the image's resolved path), else the
    calibration object (``objects``; ``spacing_from="object"`` prefers it to the file's or
    the labelled one), else ``fallback``; ``override`` beats them all."""

    fallback: Spacing | None = None
    override: Spacing | None = None
    labelled: Mapping[str, Spacing] = field(default_factory=dict, compare=False)
    objects: ObjectChoice = AUTO
    spacing_from: str = "file"

    @classmethod
    def of(cls, spacing: SpacingPolicy | float | Spacing | None) -> SpacingPolicy:
        """Accept a policy, or a plain spacing meaning a fallback (as ``--spacing``)."""
        if isinstance(spacing, SpacingPolicy):
            return spacing
        if spacing is None:
            return cls()
        values = np.atleast_1d(np.asarray(spacing, dtype=float)).ravel()
        return cls(fallback=(float(values[0]), float(values[-1])))

    def read(self, path: Path) -> tuple[Radiograph, str, str | None, ObjectSpacing | None]:
        """The radiograph with its spacing applied, where it came from (``file``,
        ``labels``, ``object``, ``fallback``, ``override`` or ``none``), a note (``fallback``
        disagrees with the spacing used by more than 1 %; the file's and the object's both
        exist) and what the calibration object gave (None with ``override``)."""
        # read_radiograph's own ``spacing`` argument is not used: its meaning (override or
        # fallback) is the io module's; applying the rule here keeps it one rule for the CLI
        radiograph = read_radiograph(path)
        if self.override is not None:
            return radiograph.with_spacing(self.override, OVERRIDE_SOURCE), "override", None, None
        labelled = self.labelled_spacing(path) if radiograph.spacing is None else None
        if labelled is not None:  # the user's spacing_mm for this image counts as its own
            radiograph = radiograph.with_spacing(labelled, LABELLED_SOURCE)
        radiograph, found, by_object = apply_object(
            radiograph, self.objects, self.spacing_from, given=self.fallback
        )
        if by_object:
            return radiograph, "object", found.summary_note(used=True), found
        if radiograph.spacing is None:
            if self.fallback is None:
                return radiograph, "none", None, found
            fallback = radiograph.with_spacing(self.fallback, FALLBACK_SOURCE)
            return fallback, "fallback", found.summary_note(used=False), found
        notes = [found.summary_note(used=False) or ""]
        if self.fallback is not None and spacings_disagree(radiograph.spacing, self.fallback):
            if labelled is not None:
                own, used = (
                    f"its folder's landmarks.csv gives spacing_mm {_mm(labelled)}, which",
                    "the landmarks.csv one",
                )
            else:
                own = f"the file's spacing {_mm(radiograph.spacing)} ({radiograph.spacing_source})"
                used = "the file's"
            notes.append(
                f"{own} differs from --spacing {_mm(self.fallback)}; {used} is used "
                "(--override-spacing replaces it)"
            )
        source = "labels" if labelled is not None else "file"
        return radiograph, source, "; ".join(n for n in notes if n) or None, found

    def labelled_spacing(self, path: Path) -> Spacing | None:
        """The ``spacing_mm`` the image's folder's ``landmarks.csv`` gives it, or None."""
        if not self.labelled:
            return None
        return self.labelled.get(str(Path(path).resolve()))

    def as_dict(self) -> dict:
        return {
            "fallback_spacing": list(self.fallback) if self.fallback else None,
            "override_spacing": list(self.override) if self.override else None,
            "calibration_object": str(self.objects),
            "spacing_from": self.spacing_from,
        }


def _mm(spacing: Spacing) -> str:
    row, col = spacing
    return f"{row:g} mm/px" if row == col else f"{row:g}×{col:g} mm/px"


@dataclass
class BatchResult:
    """One file's outcome: a prediction, or the reason it failed (``error``)."""

    path: Path
    prediction: Prediction | None
    error: str | None = None
    spacing_from: str = ""  # file | labels | object | fallback | override | none
    spacing_note: str | None = None
    overlay_base: np.ndarray | None = None  # (h, w) uint8 picture for overlays, when asked
    calibration: dict | None = None  # what the calibration object gave (ObjectSpacing.as_dict)


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
    calibration: dict | None = None


class _Reader(Dataset):
    """Reads and letterboxes one file per item, in DataLoader workers: it holds plain data
    (the geometry, not the model), so it pickles cheaply for ``spawn`` workers."""

    def __init__(
        self,
        geometry: GeometryConfig,
        paths: list[Path],
        policy: SpacingPolicy,
        overlay_height: int | None,
    ) -> None:
        self.geometry, self.paths, self.policy = geometry, paths, policy
        self.overlay_height = overlay_height

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> _Prepared:
        path = self.paths[i]
        try:
            r, spacing_from, note, found = self.policy.read(path)
            boxed, box = network_input(r.pixels, self.geometry)
            tensor = torch.from_numpy(boxed)[None]
            base = None
            if self.overlay_height:
                from apn_core.inference.overlay import overlay_base

                base = overlay_base(r.pixels, self.overlay_height)
            calibration = None if found is None else found.as_dict()
            return _Prepared(
                path,
                tensor,
                box,
                r.spacing,
                r.spacing_source,
                spacing_from,
                note,
                base,
                calibration=calibration,
            )
        except ApnError as exc:
            return _Prepared(path, error=str(exc))
        except Exception as exc:  # one odd file must not stop a batch of thousands
            log.debug("unexpected error on %s", path, exc_info=True)
            return _Prepared(path, error=f"unexpected error ({type(exc).__name__}: {exc})")


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
    reader = _Reader(predictor.config.geometry, list(paths), policy, overlay_height)
    loader = data_loader(reader, workers, batch_size, collate_fn=as_list)
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
                it.calibration,
            )
