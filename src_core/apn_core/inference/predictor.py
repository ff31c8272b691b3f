"""The Predictor: six landmarks (or K) in image pixels and mm, with confidence and presence.

    from apn_core import Predictor
    p = Predictor.load("default")            # or a run folder
    result = p.predict_file("leg.dcm")       # or p.predict(array, spacing=(0.143, 0.143))
    result.xy, result.xy_mm, result.confidence, result.present, result.alignment

Confidence (0–1) is the geometric mean of the heatmap's peak height and the confidence
discriminator's probability that the heatmap is a correct, well-formed landmark:
``sqrt(clip(peak, 0, 1) · C(heatmaps))``. A landmark whose peak is below the presence
threshold (``loss.presence_threshold``, default 0.3) is reported **absent**: NaN
coordinates, ``present = False`` — never a confident wrong point. Occluded landmarks keep
their position with whatever (usually lower) confidence they get.

One anatomical rule is applied after decoding: the two landmarks of a mirror pair (right
and left knee, ...) cannot lie within ``MIN_PAIR_DISTANCE_MM`` of each other; when both
are predicted there (a one-leg view read as two legs), the one with the lower heatmap
peak is reported absent.
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
from apn_core.inference.model_store import resolve
from apn_core.io import read_radiograph
from apn_core.measurements import alignment
from apn_core.models import build_networks, load_networks
from apn_core.models.networks import INFERENCE_OPTIONAL
from apn_core.presets import get_preset

log = logging.getLogger(__name__)
MIN_PAIR_DISTANCE_MM = 30.0


@dataclass
class Prediction:
    """Landmarks of one image.

    xy: ``(K, 2)`` image (x=col, y=row) px, NaN where absent. xy_mm: the same × spacing
    (mm from the centre of the top-left pixel), NaN without spacing. confidence: ``(K,)``.
    present: ``(K,)`` bool. heatmaps: ``(K, h, w)`` float32 at heatmap resolution;
    ``heatmap_scale``/``heatmap_translate`` (row, col) map heatmap pixel indices to image
    pixels (``image = index · scale + translate``) — multiply by spacing for napari's mm.
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

    def as_rows(self) -> list[dict]:
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
                }
            )
        return rows


@dataclass
class NetworkOutput:
    """What the networks say about a batch (or, from :meth:`sample`, one image).

    heatmaps: ``(B, K, h, w)`` of the last stack (flip-averaged when asked). xy: ``(B, K, 2)``
    decoded input-pixel (x, y). peak: ``(B, K)`` heatmap maxima. confidence_d: ``(B, K)``
    the confidence discriminator's probability that each heatmap is a correct landmark.
    """

    heatmaps: torch.Tensor
    xy: torch.Tensor
    peak: torch.Tensor
    confidence_d: torch.Tensor

    def __len__(self) -> int:
        return len(self.heatmaps)

    def sample(self, i: int) -> NetworkOutput:
        """The ``i``-th image's outputs, without the batch axis."""
        return NetworkOutput(self.heatmaps[i], self.xy[i], self.peak[i], self.confidence_d[i])


class Predictor:
    """A generator (and confidence discriminator) ready to predict on any image size."""

    def __init__(
        self,
        config: RunConfig,
        weights: dict | None = None,
        device: str | torch.device = "cpu",
        name: str = "",
        flip_test: bool = False,
        origin: str | Path | None = None,
    ) -> None:
        """``weights``: ``"<network>.<param>"`` tensors, loaded strictly (only the pose
        discriminator may be left out); ``origin`` names them in errors. ``flip_test``: also
        run the horizontally flipped image and average the heatmaps (left/right swapped
        back): twice the network compute for ~20 % lower error (``benchmarks/decoding.py``);
        on by default for loaded models."""
        self.config, self.name, self.flip_test = config, name, flip_test
        self.device = torch.device(device)
        nets = build_networks(config)
        if weights is not None:
            load_networks(nets, weights, origin or name or "weights", INFERENCE_OPTIONAL)
        self.generator = nets.generator.to(self.device, memory_format=torch.channels_last).eval()
        self.confidence_net = nets.confidence.to(self.device).eval()

    @classmethod
    def load(
        cls,
        model: str | Path = "default",
        device: str | torch.device = "cpu",
        tag: str = "best",
        flip_test: bool = True,
    ) -> Predictor:
        """A bundled model by key (``"default"``) or a run folder (its ``best`` weights, else
        ``last``). Weights that do not match the config raise :class:`FileProblem`."""
        source = resolve(model, tag)
        weights = runs.read_checkpoint(source.weights).weights
        return cls(source.config, weights, device, source.name, flip_test, source.weights)

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
        heatmaps = self.generator(x)[-1].float()
        if self.flip_test:
            # heatmap column u of the flipped input is column (w − 1 − u) of the original
            flipped = self.generator(x.flip(-1))[-1].float().flip(-1)
            heatmaps = 0.5 * (heatmaps + flipped[:, self.config.landmarks.flip_permutation()])
        xy, peak = decode(heatmaps, self.config.geometry.stride, self.config.decoding)
        return NetworkOutput(heatmaps, xy, peak, self.confidence_net(heatmaps))

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
        confidence = np.sqrt(np.clip(peak, 0, 1) * out.confidence_d.cpu().numpy())
        xy = box.to_image(out.xy.cpu().numpy())
        self._resolve_coinciding_pairs(xy, present, peak, spacing, box.image_shape[1])
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
        return result

    def _resolve_coinciding_pairs(self, xy, present, peak, spacing, image_width: int) -> None:
        """Mark the weaker (lower heatmap peak) of a coinciding mirror pair absent (in place). Without a
        spacing, "coinciding" is 5 % of the image width (~20 mm of a 40 cm long-leg field)."""
        lm = self.config.landmarks
        if spacing:
            scale, limit = np.array([spacing[1], spacing[0]]), MIN_PAIR_DISTANCE_MM
        else:
            scale, limit = np.full(2, 1.0 / image_width), 0.05
        for a, b in lm.mirror_pairs:
            i, j = lm.index(a), lm.index(b)
            if present[i] and present[j] and np.linalg.norm((xy[i] - xy[j]) * scale) < limit:
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
