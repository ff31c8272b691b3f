"""The Predictor: six landmarks (or K) in image pixels and mm, with confidence and presence.

    from apn_core import Predictor
    p = Predictor.load("default")            # or a run folder
    result = p.predict_file("leg.dcm")       # or p.predict(array, spacing=(0.143, 0.143))
    result.xy, result.xy_mm, result.confidence, result.present, result.alignment

Confidence (0–1): with a calibration (``calibration.json`` beside the weights, fitted by
``apn calibrate``), the calibrated probability ``p_within`` that the landmark lies within
the tolerance (10 mm) — 0.9 means 9 in 10 such landmarks were within 10 mm on the
calibration data; without one, the geometric mean of the heatmap's peak height and the
confidence discriminator's probability, ``sqrt(clip(peak, 0, 1) · C(heatmaps))`` — or the
peak height alone when the confidence discriminator never went through adversarial
training (a ``--no-adversarial`` run, a ``best`` from the supervised phase): untrained, C
says ≈ 0.5 of everything and would pull a sure landmark's 0.96 down to 0.70. Which
discriminators were trained is recorded in each checkpoint
(:func:`apn_core.runs.trained_discriminators`); an untrained one is never run.

Every prediction is reviewed (:mod:`apn_core.inference.review`): a landmark **needs
review** when its calibrated probability is at or below the calibration's threshold, or
when an anatomical plausibility check implicates it; each flag has a reason, and a
measurement that uses a flagged or absent landmark is left empty (``None``) with a note.
The per-landmark features behind it (:mod:`apn_core.inference.confidence`) come from the
plain and flipped passes and both discriminators — the pose discriminator P(heatmaps,
image) judges whether each landmark is plausible for this image. A landmark whose peak is below the presence
threshold (``loss.presence_threshold``, default 0.3) is reported **absent**: NaN
coordinates, ``present = False`` — never a confident wrong point. Occluded landmarks keep
their position with whatever (usually lower) confidence they get.

One anatomical rule is applied after decoding: the two landmarks of a mirror pair (right
and left knee, ...) cannot lie within ``PAIR_FRACTION`` of the leg's length of each other;
when both are predicted there (a one-leg film read as two legs), the one with the lower
heatmap peak is reported absent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from apn_core import runs
from apn_core.config import RunConfig
from apn_core.geometry import Letterbox, network_input
from apn_core.heatmaps import decode
from apn_core.inference.calibration import Calibrator, check_fitted_on, load_calibrator
from apn_core.inference.confidence import heatmap_to_image_xy, landmark_features
from apn_core.inference.model_store import resolve
from apn_core.inference.review import blank_measurements, review_landmarks
from apn_core.io import read_radiograph
from apn_core.measurements import alignment
from apn_core.models import build_networks, load_networks, trust
from apn_core.models.networks import INFERENCE_OPTIONAL
from apn_core.presets import get_preset

log = logging.getLogger(__name__)
PAIR_FRACTION = 0.05  # of the leg's length: mirror-pair landmarks closer than this coincide


@dataclass
class Prediction:
    """Landmarks of one image.

    xy: ``(K, 2)`` image (x=col, y=row) px, NaN where absent. xy_mm: the same × spacing
    (mm from the centre of the top-left pixel), NaN without spacing. confidence: ``(K,)``.
    present: ``(K,)`` bool. heatmaps: ``(K, h, w)`` float32 at heatmap resolution;
    ``heatmap_scale``/``heatmap_translate`` (row, col) map heatmap pixel indices to image
    pixels (``image = index · scale + translate``) — multiply by spacing for napari's mm.
    needs_review / review_reason / p_within / p_present: the review (``(K,)`` each).
    second_xy: ``(K, 2)`` candidates of the flagged landmarks (NaN elsewhere): a flagged
    point's second-best peak; for a landmark reported absent but flagged, its own best peak.
    """

    names: tuple[str, ...]
    xy: np.ndarray
    xy_mm: np.ndarray
    confidence: np.ndarray
    present: np.ndarray
    heatmaps: np.ndarray
    heatmap_scale: tuple[float, float]
    heatmap_translate: tuple[float, float]
    image_shape: tuple[int, int]
    spacing: tuple[float, float] | None
    spacing_source: str = ""
    source: str = ""
    alignment: dict = field(default_factory=dict)
    needs_review: np.ndarray | None = None
    review_reason: list[str] = field(default_factory=list)
    p_within: np.ndarray | None = None
    p_present: np.ndarray | None = None
    second_xy: np.ndarray | None = None
    features: np.ndarray | None = None
    review: dict = field(default_factory=dict)
    alignment_notes: dict = field(default_factory=dict)

    @property
    def image_needs_review(self) -> bool:
        """True when any landmark is flagged (or the image-level checks failed)."""
        return bool(self.review.get("needs_review", False))

    def as_rows(self) -> list[dict]:
        flags = self.needs_review if self.needs_review is not None else np.zeros(len(self.names))
        rows = []
        for i, name in enumerate(self.names):
            p = bool(self.present[i])
            rows.append(
                {
                    "landmark": name,
                    "x": float(self.xy[i, 0]) if p else None,
                    "y": float(self.xy[i, 1]) if p else None,
                    "x_mm": float(self.xy_mm[i, 0]) if p and self.spacing else None,
                    "y_mm": float(self.xy_mm[i, 1]) if p and self.spacing else None,
                    "confidence": float(self.confidence[i]),
                    "present": p,
                    "needs_review": bool(flags[i]),
                    "review_reason": self.review_reason[i] if self.review_reason else "",
                }
            )
        return rows


@dataclass
class NetworkOutput:
    """What the networks say about a batch (or, from :meth:`sample`, one image).

    heatmaps: ``(B, K, h, w)`` of the last stack (flip-averaged when asked). xy: ``(B, K, 2)``
    decoded input-pixel (x, y). peak: ``(B, K)`` heatmap maxima. confidence_d: ``(B, K)``
    the confidence discriminator's probability that each heatmap is a correct landmark
    (None without trained confidence weights).
    plain / flipped: the two passes before averaging (``flipped`` already flipped back and
    left/right swapped back; None without the flip test). pose_d: ``(B, K)`` the pose
    discriminator's judgement of each landmark for this image (None without trained pose
    weights).
    """

    heatmaps: torch.Tensor
    xy: torch.Tensor
    peak: torch.Tensor
    confidence_d: torch.Tensor | None
    plain: torch.Tensor | None = None
    flipped: torch.Tensor | None = None
    pose_d: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.heatmaps)

    def sample(self, i: int) -> NetworkOutput:
        """The ``i``-th image's outputs, without the batch axis."""

        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[i]

        return NetworkOutput(
            self.heatmaps[i],
            self.xy[i],
            self.peak[i],
            pick(self.confidence_d),
            pick(self.plain),
            pick(self.flipped),
            pick(self.pose_d),
        )


class Predictor:
    """A generator and its discriminators ready to predict, and review, on any image size."""

    def __init__(
        self,
        config: RunConfig,
        weights: dict | None = None,
        device: str | torch.device = "cpu",
        name: str = "",
        flip_test: bool = False,
        origin: str | Path | None = None,
        calibrator: Calibrator | None = None,
        trained: frozenset[str] = frozenset(),
    ) -> None:
        """``weights``: ``"<network>.<param>"`` tensors, loaded strictly (only the pose
        discriminator may be left out); ``origin`` names them in errors. ``flip_test``: also
        run the horizontally flipped image and average the heatmaps (left/right swapped
        back): twice the network compute for ~20 % lower error (``benchmarks/decoding.py``);
        on by default for loaded models. ``calibrator``: turns the per-landmark features into
        calibrated probabilities and review thresholds (None: plausibility checks only).
        ``trained``: the discriminators (``"pose"``, ``"confidence"``) whose weights are
        given and went through adversarial training; only those judge (untrained, they
        would be noise)."""
        self.config, self.name, self.flip_test = config, name, flip_test
        self.calibrator = calibrator
        self.device = torch.device(device)
        nets = build_networks(config)
        if weights is not None:
            load_networks(nets, weights, origin or name or "weights", INFERENCE_OPTIONAL)
        self.generator = nets.generator.to(self.device, memory_format=torch.channels_last).eval()
        self.trained = frozenset(trained) if weights is not None else frozenset()
        has_pose = weights is not None and any(k.startswith("pose.") for k in weights)
        self.pose_net = (
            nets.pose.to(self.device).eval() if has_pose and "pose" in self.trained else None
        )
        self.confidence_net = (
            nets.confidence.to(self.device).eval() if "confidence" in self.trained else None
        )
        self.calibration_file: Path | None = None  # where ``calibrator`` came from (load)
        needs_pose = calibrator is not None and all("p" in m.features for m in calibrator.models)
        if needs_pose and self.pose_net is None:
            log.warning(
                "%s: its calibration needs the pose discriminator's judgement, which this "
                "model lacks (left out or never trained adversarially): the confidence stays "
                "uncalibrated and only the plausibility checks flag landmarks",
                name or "model",
            )

    @classmethod
    def load(
        cls,
        model: str | Path = "default",
        device: str | torch.device = "cpu",
        tag: str = "best",
        flip_test: bool = True,
        calibration: str | Path | None = None,
    ) -> Predictor:
        """A bundled model by key (``"default"``) or a run folder (its ``best`` weights, else
        ``last``). Weights that do not match the config raise :class:`FileProblem`.
        ``calibration``: a ``calibration.json`` to use instead of the one beside the weights
        (``apn calibrate --model default --out FILE`` fits one for the read-only bundled model)."""
        source = resolve(model, tag)
        trust.check_fits(source.weights, source.config, INFERENCE_OPTIONAL)  # before building
        checkpoint = runs.read_checkpoint(source.weights)
        trust.check_values(checkpoint.weights, source.weights)
        trained = runs.trained_discriminators(checkpoint, source.config.train.epochs_pretrain)
        given = calibration is not None
        path = Path(calibration) if given else source.weights.parent / runs.CALIBRATION
        calibrator = load_calibrator(path) if given or path.is_file() else None
        if calibrator is not None:
            check_fitted_on(calibrator, path, source, given)
        predictor = cls(
            source.config,
            checkpoint.weights,
            device,
            source.name,
            flip_test,
            source.weights,
            calibrator,
            trained,
        )
        predictor.calibration_file = path if calibrator is not None else None
        return predictor

    @classmethod
    def from_preset(cls, name: str, device: str | torch.device = "cpu") -> Predictor:
        """An untrained model of a preset (speed comparisons, tests)."""
        return cls(get_preset(name), None, device, f"untrained:{name}")

    @property
    def landmarks(self) -> tuple[str, ...]:
        return self.config.landmarks.names

    def prepare(self, pixels: np.ndarray) -> tuple[torch.Tensor, Letterbox]:
        """Normalise and letterbox one bone-bright image → ``(1, H, W)`` tensor and its box."""
        boxed, box = network_input(pixels, self.config.geometry)
        return torch.from_numpy(boxed)[None], box

    @torch.no_grad()
    def forward(self, batch: torch.Tensor) -> NetworkOutput:
        """``(B, 1, H, W)`` letterboxed images → the networks' outputs."""
        x = batch.to(self.device).float().contiguous(memory_format=torch.channels_last)
        flipped = None
        if self.flip_test:
            # one call on [x, flipped x]: on 2 CPU threads 36 ms instead of 2 × 28 (the
            # pool has twice the work per operation to share); the same on one thread
            both = torch.cat([x, x.flip(-1)]).contiguous(memory_format=torch.channels_last)
            out = self.generator(both)[-1].float()
            plain = out[: len(x)]
            # heatmap column u of the flipped input is column (w − 1 − u) of the original
            flipped = out[len(x) :].flip(-1)[:, self.config.landmarks.flip_permutation()]
            heatmaps = 0.5 * (plain + flipped)
        else:
            plain = heatmaps = self.generator(x)[-1].float()
        xy, peak = decode(heatmaps, self.config.geometry.stride, self.config.decoding)
        pose = self.pose_net(heatmaps, x) if self.pose_net is not None else None
        c = self.confidence_net(heatmaps) if self.confidence_net is not None else None
        return NetworkOutput(heatmaps, xy, peak, c, plain, flipped, pose)

    def finish(
        self,
        out: NetworkOutput,
        box: Letterbox,
        spacing,
        spacing_source: str = "",
        source: str = "",
    ) -> Prediction:
        """One image's network outputs (``forward(...).sample(i)``) → a :class:`Prediction`
        in image coordinates."""
        heatmaps, peak = out.heatmaps, out.peak.cpu().numpy()
        present = peak >= self.config.loss.presence_threshold
        confidence = np.clip(peak, 0, 1)  # peak only: without a trained C
        if out.confidence_d is not None:
            confidence = np.sqrt(confidence * out.confidence_d.cpu().numpy())
        xy = box.to_image(out.xy.cpu().numpy())
        self._resolve_coinciding_pairs(xy, present, peak, box.image_shape)
        decoded = xy.copy()  # also where reported absent: a flagged one's candidate (_review)
        xy[~present] = np.nan
        s = self.config.geometry.stride
        scale = (s / box.sy, s / box.sx)
        translate = (
            ((s - 1) / 2 - box.oy + 0.5) / box.sy - 0.5,
            ((s - 1) / 2 - box.ox + 0.5) / box.sx - 0.5,
        )
        xy_mm = xy * np.array([spacing[1], spacing[0]]) if spacing else np.full_like(xy, np.nan)
        result = Prediction(
            names=self.landmarks,
            xy=xy,
            xy_mm=xy_mm,
            confidence=confidence.astype(np.float32),
            present=present,
            heatmaps=heatmaps.cpu().numpy().astype(np.float32),
            heatmap_scale=scale,
            heatmap_translate=translate,
            image_shape=box.image_shape,
            spacing=spacing,
            spacing_source=spacing_source,
            source=source,
        )
        if spacing and set(self.landmarks) >= {"femur_right", "knee_right", "ankle_right"}:
            result.alignment = alignment(xy, spacing, self.config.landmarks)
        self._review(result, out, box, decoded)
        return result

    def _review(
        self, result: Prediction, out: NetworkOutput, box: Letterbox, decoded: np.ndarray
    ) -> None:
        """Features, calibrated probabilities, plausibility, flags and the candidates of the
        flagged landmarks (in place): a flagged point's second-best peak, and for a landmark
        reported absent but probably there, its own best peak (``decoded``: every landmark's
        position before absent ones were blanked). Measurements that use a flagged or absent
        landmark are emptied with a note."""
        spacing, s = result.spacing, self.config.geometry.stride
        mm = None
        if spacing:
            row, col = box.input_spacing(spacing)
            mm = (row * s, col * s)
        plain = out.plain if out.plain is not None else out.heatmaps
        features = landmark_features(
            plain, mm, flipped=out.flipped, c=out.confidence_d, p=out.pose_d
        )
        review = review_landmarks(
            result.xy, result.present, spacing, self.config.landmarks, features, self.calibrator
        )
        result.features = features.table()
        result.needs_review = np.asarray(review.needs_review, bool)
        result.review_reason = list(review.reasons)
        result.p_within, result.p_present = review.p_within, review.p_present
        result.review = review.summary()
        second = heatmap_to_image_xy(
            features.second_uv[0], result.heatmap_scale, result.heatmap_translate
        )
        candidate = np.where(result.present[:, None], second, decoded)
        result.second_xy = np.where(result.needs_review[:, None], candidate, np.nan)
        if self.calibrator is not None:
            calibrated = np.isfinite(review.p_within) & result.present  # P(within) of a point
            result.confidence = np.where(calibrated, review.p_within, result.confidence).astype(
                np.float32
            )
        if result.alignment:
            result.alignment, result.alignment_notes = blank_measurements(result.alignment, review)

    def _resolve_coinciding_pairs(self, xy, present, peak, image_shape) -> None:
        """Mark the weaker (lower heatmap peak) of a coinciding mirror pair absent (in place).

        "Coinciding" is closer than :data:`PAIR_FRACTION` of the leg's own length in the
        image (hip → ankle of the longer leg found; ~45 mm of an adult leg, while two legs'
        hips, knees and ankles lie ≥ 70 mm apart even with the knees together), or of the
        image height when no leg has both ends. Sized by the leg, not by the image width or
        the spacing: a one-leg film cut to 128 px wide is read like a two-leg one, and a
        wrong spacing (0.143 read as 0.5 mm/px) cannot delete real landmarks — which would
        also hide the spacing error from the plausibility checks."""
        lm = self.config.landmarks
        lengths = [
            float(np.linalg.norm(xy[lm.index(f"femur_{side}")] - xy[lm.index(f"ankle_{side}")]))
            for side in ("right", "left")
            if {f"femur_{side}", f"ankle_{side}"} <= set(lm.names)
            and present[lm.index(f"femur_{side}")]
            and present[lm.index(f"ankle_{side}")]
        ]
        scale = max(lengths) if lengths else float(image_shape[0])
        for a, b in lm.mirror_pairs:
            i, j = lm.index(a), lm.index(b)
            if not (present[i] and present[j]):
                continue
            if np.linalg.norm(xy[i] - xy[j]) < PAIR_FRACTION * scale:
                present[j if peak[i] >= peak[j] else i] = False

    def predict(
        self, image: np.ndarray, spacing: float | tuple[float, float] | None = None
    ) -> Prediction:
        """Landmarks of a 2-D bone-bright array of any size; ``spacing`` in mm/px for mm outputs."""
        if image.ndim != 2:
            raise ValueError(f"expected a 2-D image, got shape {image.shape}")
        if spacing is not None and np.isscalar(spacing):
            spacing = (float(spacing), float(spacing))
        tensor, box = self.prepare(image)
        out = self.forward(tensor[None]).sample(0)
        return self.finish(out, box, spacing, "given" if spacing else "")

    def predict_file(
        self, path: str | Path, spacing: float | tuple[float, float] | None = None
    ) -> Prediction:
        """Read a radiograph (DICOM/TIFF/PNG/JPEG) with its spacing and predict."""
        radiograph = read_radiograph(path, spacing, "given (--spacing)")
        tensor, box = self.prepare(radiograph.pixels)
        out = self.forward(tensor[None]).sample(0)
        return self.finish(out, box, radiograph.spacing, radiograph.spacing_source, str(path))
