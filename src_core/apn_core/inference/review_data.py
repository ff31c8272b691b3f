"""Glue until the Predictor exposes what review needs: run a loaded model on an image and
return its Prediction *and* the per-landmark features; collect labelled features for
calibration.

Today ``Predictor.forward`` averages the plain and flipped heatmaps and the pose
discriminator is not loaded at all, so :class:`FeatureExtractor` repeats the forward pass
keeping both passes and runs the pose network when the weights carry one. When the
Predictor returns plain/flipped heatmaps, C and P itself, replace
:meth:`FeatureExtractor.__call__` by a call to it — nothing else here depends on how.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from apn_core.heatmaps import decode
from apn_core.inference.calibration import CalibrationData
from apn_core.inference.confidence import FEATURES, LandmarkFeatures, landmark_features
from apn_core.inference.predictor import Prediction, Predictor
from apn_core.metrics import radial_errors_mm
from apn_core.models import PoseDiscriminator

log = logging.getLogger(__name__)


class FeatureExtractor:
    """A Predictor (flip test on) plus the pose discriminator when the run has one."""

    def __init__(self, predictor: Predictor, pose: PoseDiscriminator | None = None) -> None:
        self.predictor = predictor
        self.pose = pose.to(predictor.device).eval() if pose is not None else None

    @classmethod
    def load(
        cls, model: str | Path = "default", device: str = "cpu", tag: str = "best"
    ) -> FeatureExtractor:
        """Like ``Predictor.load``; also loads ``pose.*`` weights when the file has them."""
        from safetensors.torch import load_file

        from apn_core.inference.model_store import resolve

        predictor = Predictor.load(model, device=device, tag=tag, flip_test=True)
        source = resolve(model, tag)
        weights = load_file(str(source.weights))
        pose_weights = {k[len("pose.") :]: v for k, v in weights.items() if k.startswith("pose.")}
        pose = None
        if pose_weights and not pose_trained(
            source.weights, predictor.config.train.epochs_pretrain
        ):
            log.warning("%s: checkpoint %s predates the adversarial phase (pose discriminator untrained): "
                        "feature 'p' is missing", predictor.name, source.weights.name)  # fmt: skip
        elif pose_weights:
            d, k = predictor.config.discriminator, len(predictor.landmarks)
            pose = PoseDiscriminator(k, d.channels, d.layers)
            pose.load_state_dict(pose_weights)
        else:
            log.info("%s has no pose discriminator weights: feature 'p' is missing", predictor.name)
        return cls(predictor, pose)

    @property
    def has_pose(self) -> bool:
        return self.pose is not None

    @torch.no_grad()
    def __call__(
        self, pixels: np.ndarray, spacing: tuple[float, float] | None
    ) -> tuple[Prediction, LandmarkFeatures]:
        """One bone-bright image → its Prediction (as ``Predictor.predict``) and features."""
        pr = self.predictor
        tensor, box = pr.prepare(pixels)
        x = tensor[None].to(pr.device).float().contiguous(memory_format=torch.channels_last)
        plain = pr.generator(x)[-1].float()
        flipped = (
            pr.generator(x.flip(-1))[-1].float().flip(-1)[:, pr.config.landmarks.flip_permutation()]
        )
        mean = 0.5 * (plain + flipped)
        xy, peak = decode(mean, pr.config.geometry.stride, pr.config.decoding)
        c = pr.confidence_net(mean)
        p = self.pose(mean, x) if self.pose is not None else None
        prediction = pr.finish(
            mean[0], xy[0], peak[0], c[0], box, spacing, "given" if spacing else ""
        )
        mm = None
        if spacing is not None:
            row, col = box.input_spacing(spacing)
            mm = (row * pr.config.geometry.stride, col * pr.config.geometry.stride)
        return prediction, landmark_features(plain, mm, flipped=flipped, c=c, p=p)


def pose_trained(weights: Path, epochs_pretrain: int) -> bool:
    """Whether the checkpoint ``weights`` was saved after some adversarial training: its
    ``<tag>_state.pt`` records the epoch/step reached. A run's *best* checkpoint can come
    from the supervised phase, when the pose discriminator still has its initial weights.
    Without the state file nobody can tell: False."""
    from apn_core import runs
    from apn_core.errors import FileProblem

    try:
        state = runs.load_state(weights.parent, weights.stem)
    except FileProblem:
        return False
    loop = state.get("loop", {}) if isinstance(state, dict) else {}
    epoch, step = int(loop.get("epoch", 0)), int(loop.get("step", 0))
    return epoch > epochs_pretrain or (epoch == epochs_pretrain and step > 0)


def labelled_rows(
    pred_xy: np.ndarray, reported_present: np.ndarray, features: np.ndarray, truth_xy: np.ndarray,
    annotated: np.ndarray, spacing: tuple[float, float], image: str, names: tuple[str, ...],
) -> CalibrationData:  # fmt: skip
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
    return CalibrationData(np.zeros((0, len(FEATURES))), np.zeros(0, bool), np.zeros(0, bool),
                           np.zeros(0), np.zeros(0, object), np.zeros(0, object))  # fmt: skip


def collect(
    extractor: FeatureExtractor, folder, progress: Callable[[int, int], None] | None = None
) -> CalibrationData:
    """Run the model on every image of a LabelledFolder → calibration rows."""
    from apn_core.io import read_radiograph

    parts = [empty_data()]
    for n, item in enumerate(folder.items, start=1):
        pixels = read_radiograph(item.path).pixels
        pred, feats = extractor(pixels, item.spacing)
        lab = item.labels
        parts.append(labelled_rows(pred.xy, pred.present, feats.table(), lab.xy, lab.annotated, item.spacing,
                                   lab.image, pred.names))  # fmt: skip
        if progress:
            progress(n, len(folder.items))
    return CalibrationData.concat(parts)
