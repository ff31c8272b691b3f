"""Run a loaded model over labelled images and collect calibration rows: each landmark's
features (from the Predictor's review, :mod:`apn_core.inference.confidence`) with its
error against the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from apn_core.inference.calibration import CalibrationData
from apn_core.inference.confidence import FEATURES
from apn_core.inference.predictor import Prediction, Predictor
from apn_core.metrics import radial_errors_mm

log = logging.getLogger(__name__)


class FeatureExtractor:
    """A Predictor with the flip test on; each call gives its Prediction and the
    ``(K, len(FEATURES))`` feature table of the landmarks."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    @classmethod
    def load(
        cls, model: str | Path = "default", device: str = "cpu", tag: str = "best"
    ) -> FeatureExtractor:
        predictor = Predictor.load(model, device=device, tag=tag, flip_test=True)
        if predictor.pose_net is None:
            log.info("%s: no trained pose discriminator: feature 'p' is missing", predictor.name)
        return cls(predictor)

    @property
    def has_pose(self) -> bool:
        return self.predictor.pose_net is not None

    @property
    def has_confidence(self) -> bool:
        return self.predictor.confidence_net is not None

    def __call__(
        self, pixels: np.ndarray, spacing: tuple[float, float] | None
    ) -> tuple[Prediction, np.ndarray]:
        prediction = self.predictor.predict(pixels, spacing)
        return prediction, prediction.features


def labelled_rows(
    pred_xy: np.ndarray,
    reported_present: np.ndarray,
    features: np.ndarray,
    truth_xy: np.ndarray,
    annotated: np.ndarray,
    spacing: tuple[float, float],
    image: str,
    names: tuple[str, ...],
) -> CalibrationData:
    """One image's annotated landmarks as calibration rows.

    pred_xy / truth_xy: ``(K, 2)`` image px, NaN = absent; reported_present / annotated:
    ``(K,)`` bool; features: ``(K, len(FEATURES))`` (``LandmarkFeatures.table()``).
    """
    keep = np.asarray(annotated, bool)
    truly = keep & np.isfinite(truth_xy).all(axis=1)
    reported = np.asarray(reported_present, bool)
    err = radial_errors_mm(
        np.asarray(pred_xy)[None], np.asarray(truth_xy)[None], np.array([spacing])
    )[0]
    return CalibrationData(
        features=np.asarray(features, np.float64)[keep],
        reported_present=reported[keep],
        truly_present=truly[keep],
        error_mm=np.where(truly & reported, err, np.nan)[keep],
        image=np.array([image] * int(keep.sum()), dtype=object),
        landmark=np.array(names, dtype=object)[keep],
    )


def empty_data() -> CalibrationData:
    return CalibrationData(
        np.zeros((0, len(FEATURES))),
        np.zeros(0, bool),
        np.zeros(0, bool),
        np.zeros(0),
        np.zeros(0, object),
        np.zeros(0, object),
    )


def collect(
    extractor: FeatureExtractor,
    folder,
    progress: Callable[[int, int], None] | None = None,
    kinds: Sequence[str] = (),
) -> CalibrationData:
    """Run the model on every image of a LabelledFolder → calibration rows; with
    ``kinds``, also on each image under each perturbation kind
    (:mod:`apn_core.perturbations`, seeded by the image's index). Rows come kind by kind
    (the images as they are first), a perturbed image named ``<kind>/<image>``; each file
    is read once. ``progress(done, total)`` counts files."""
    from apn_core.perturbations import perturb, sample_of

    versions: list[str | None] = [None, *kinds]
    parts: dict[str | None, list[CalibrationData]] = {v: [] for v in versions}
    for n, item in enumerate(folder.items, start=1):
        sample = sample_of(item, folder.landmarks.names)
        for kind in versions:
            s = sample if kind is None else perturb(kind, sample, seed=n - 1)
            pred, table = extractor(s.pixels, s.spacing)
            name = item.labels.image if kind is None else f"{kind}/{item.labels.image}"
            parts[kind].append(
                labelled_rows(
                    pred.xy, pred.present, table, s.xy, s.annotated, s.spacing, name, pred.names
                )
            )
        if progress:
            progress(n, len(folder.items))
    return CalibrationData.concat([empty_data(), *(p for v in versions for p in parts[v])])
