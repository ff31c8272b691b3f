"""Per-landmark features that predict whether a landmark is wrong, from one forward pass.

A single confidence number (today ``sqrt(peak · C)``) misses the typical failure: a clean,
high peak on the wrong structure (an ankle on the heel). Each feature below sees a
different symptom; :mod:`apn_core.inference.calibration` turns them into one calibrated
probability.

Features (arrays ``(B, K)``; NaN = not available):

- ``peak``: height of the heatmap maximum (≈ 1 for a confident, well-formed landmark).
- ``second_ratio``: height of the best *separate* local maximum — at least
  ``min_separation_mm`` from the peak — divided by the peak (0 when there is none). A
  second candidate of similar height means the model hesitated between two structures.
  Its position, ``second_uv``, is the "second-best candidate" to show the user.
- ``spread_mm``: RMS distance (mm) of the heatmap mass from the decoded position, counting
  only values above ``SPREAD_FLOOR`` × peak (background ignored). A crisp Gaussian of
  σ heatmap px gives ≈ 1.10 σ · mm/px; mass spread over several structures gives a large
  value.
- ``flip_mm``: distance (mm) between the positions decoded from the plain and from the
  flipped pass (flipped back, left/right swapped back). A landmark the network finds in
  the same place both ways is more often right. NaN without a flipped pass.
- ``c``: the confidence discriminator C(heatmaps), per landmark, in (0, 1).
- ``p``: the pose discriminator P(heatmaps, image), per landmark, in (0, 1): was this
  landmark judged correct for *this* image. NaN when the model has no pose weights.
- ``image_peak`` / ``image_flip_mm``: the median ``peak`` / ``flip_mm`` over the image's
  landmarks — context: on an image unlike the training data every landmark wavers.

Units and coordinates: heatmaps are ``(B, K, h, w)`` (or ``(K, h, w)``); positions on
them are heatmap pixels ``(u, v) = (column, row)`` with (0, 0) the centre of the top-left
heatmap pixel; ``mm_per_px`` is the size of one *heatmap* pixel in mm as ``(row_mm,
col_mm)`` — for a letterboxed input, ``box.input_spacing(spacing) × stride``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from apn_core.heatmaps import decode

FEATURES = ("peak", "second_ratio", "spread_mm", "flip_mm", "c", "p", "image_peak", "image_flip_mm")
SPREAD_FLOOR = 0.1  # heatmap values below this share of the peak are background for the spread
MIN_SEPARATION_MM = 20.0  # a second candidate closer than this is the same blob
MIN_SEPARATION_PX = 3.0  # the same without a pixel spacing, in heatmap pixels


@dataclass
class LandmarkFeatures:
    """Per-landmark features of a batch. Every array is ``(B, K)`` float64 except
    ``second_uv`` ``(B, K, 2)`` heatmap px (u=col, v=row), NaN where there is no second
    candidate. See the module docstring for the meaning of each feature."""

    peak: np.ndarray
    second_ratio: np.ndarray
    second_uv: np.ndarray
    spread_mm: np.ndarray
    flip_mm: np.ndarray
    c: np.ndarray
    p: np.ndarray
    image_peak: np.ndarray
    image_flip_mm: np.ndarray

    def table(self) -> np.ndarray:
        """``(B·K, len(FEATURES))`` rows in :data:`FEATURES` order (NaN = missing)."""
        return np.stack([getattr(self, name).reshape(-1) for name in FEATURES], axis=1)

    def as_dict(self, names: tuple[str, ...], b: int = 0) -> dict[str, dict[str, float | None]]:
        """JSON-friendly ``{landmark: {feature: value or None}}`` of batch element ``b``."""
        out = {}
        for k, name in enumerate(names):
            row = {f: _num(getattr(self, f)[b, k]) for f in FEATURES}
            u, v = self.second_uv[b, k]
            row["second_u"], row["second_v"] = _num(u), _num(v)
            out[name] = row
        return out


def _num(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _as_tensor(a) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    return t.detach().to("cpu", torch.float32)


def _batched(heatmaps) -> torch.Tensor:
    """``(B, K, h, w)`` float32 on the CPU; a ``(K, h, w)`` input becomes B = 1."""
    t = _as_tensor(heatmaps)
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4:
        raise ValueError(f"heatmaps must be (K, h, w) or (B, K, h, w), got shape {tuple(t.shape)}")
    return t


def _per_sample(values, b: int, k: int, what: str) -> np.ndarray:
    """``values`` as ``(B, K)`` float64 (NaN if None); accepts ``(K,)`` for B = 1."""
    if values is None:
        return np.full((b, k), np.nan)
    arr = _as_tensor(values).numpy().astype(np.float64)
    if arr.shape == (k,) and b == 1:
        arr = arr[None]
    if arr.shape != (b, k):
        raise ValueError(f"{what} must have shape ({b}, {k}), got {arr.shape}")
    return arr


def _mm_scale(mm_per_px, b: int) -> torch.Tensor:
    """``(B, 2)`` (row_mm, col_mm) per heatmap pixel from one pair or one pair per sample."""
    s = _as_tensor(mm_per_px).to(torch.float64).reshape(-1, 2)
    if len(s) == 1:
        s = s.expand(b, 2)
    if s.shape != (b, 2) or not torch.isfinite(s).all() or (s <= 0).any():
        raise ValueError(f"mm_per_px must be positive (row_mm, col_mm) pairs, got {s.tolist()}")
    return s


def landmark_features(
    heatmaps,
    mm_per_px,
    *,
    flipped=None,
    c=None,
    p=None,
    min_separation_mm: float = MIN_SEPARATION_MM,
) -> LandmarkFeatures:
    """Features of every landmark of a batch (see the module docstring).

    heatmaps: ``(B, K, h, w)`` or ``(K, h, w)`` (→ B = 1), the plain pass (torch or numpy).
    flipped: the same shape, the flipped pass already flipped back (``.flip(-1)``) and
        permuted to the original landmark order; when given, peak/second/spread are taken
        on the average of both passes — what the Predictor decodes — and ``flip_mm`` is
        their disagreement.
    mm_per_px: ``(row_mm, col_mm)`` of one heatmap pixel, one pair or ``(B, 2)``; None
        (no pixel spacing): ``spread_mm``/``flip_mm`` are NaN and the second candidate must
        lie ``MIN_SEPARATION_PX`` heatmap pixels away.
    c, p: discriminator outputs ``(B, K)`` (or ``(K,)``), None when not available.
    """
    plain = _batched(heatmaps)
    b, k = plain.shape[:2]
    if mm_per_px is None:
        scale, min_separation_mm = torch.ones(b, 2, dtype=torch.float64), MIN_SEPARATION_PX
    else:
        scale = _mm_scale(mm_per_px, b)
    if flipped is not None:
        other = _batched(flipped)
        if other.shape != plain.shape:
            raise ValueError(f"flipped heatmaps {tuple(other.shape)} ≠ {tuple(plain.shape)}")
        mean = 0.5 * (plain + other)
        flip_mm = _distance_mm(_decode_uv(plain), _decode_uv(other), scale)
    else:
        mean, flip_mm = plain, np.full((b, k), np.nan)
    uv = _decode_uv(mean)
    peak = mean.reshape(b, k, -1).amax(-1).double()
    spread = _spread_mm(mean, uv, peak, scale)
    ratio, second_uv = _second_peak(mean, uv, peak, scale, min_separation_mm)
    if mm_per_px is None:
        spread, flip_mm = np.full((b, k), np.nan), np.full((b, k), np.nan)
    return LandmarkFeatures(
        peak=peak.numpy(),
        second_ratio=ratio,
        second_uv=second_uv,
        spread_mm=spread,
        flip_mm=flip_mm,
        c=_per_sample(c, b, k, "c"),
        p=_per_sample(p, b, k, "p"),
        image_peak=np.repeat(np.median(peak.numpy(), axis=1, keepdims=True), k, axis=1),
        image_flip_mm=np.repeat(_median(flip_mm), k, axis=1),
    )


def _median(values: np.ndarray) -> np.ndarray:
    """``(B, 1)`` median over landmarks; NaN where every value is NaN (no warning)."""
    out = np.full((values.shape[0], 1), np.nan)
    for i, row in enumerate(values):
        finite = row[np.isfinite(row)]
        if finite.size:
            out[i, 0] = np.median(finite)
    return out


def _decode_uv(heatmaps: torch.Tensor) -> torch.Tensor:
    """Sub-pixel heatmap (u, v) ``(B, K, 2)`` float64, the Predictor's quadratic decoding."""
    uv, _ = decode(heatmaps, stride=1, method="quadratic")
    return uv.double()


def _distance_mm(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> np.ndarray:
    d = a - b
    return torch.sqrt(
        (d[..., 0] * scale[:, None, 1]) ** 2 + (d[..., 1] * scale[:, None, 0]) ** 2
    ).numpy()


def _grid_mm(uv: torch.Tensor, scale: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Squared mm distance ``(B, K, h, w)`` of every heatmap pixel from ``uv``."""
    rows = torch.arange(h, dtype=torch.float64).view(1, 1, h, 1)
    cols = torch.arange(w, dtype=torch.float64).view(1, 1, 1, w)
    du = (cols - uv[..., 0, None, None]) * scale[:, None, None, None, 1]
    dv = (rows - uv[..., 1, None, None]) * scale[:, None, None, None, 0]
    return du**2 + dv**2


def _spread_mm(
    mean: torch.Tensor, uv: torch.Tensor, peak: torch.Tensor, scale: torch.Tensor
) -> np.ndarray:
    h, w = mean.shape[-2:]
    weight = (mean.double() - SPREAD_FLOOR * peak[..., None, None]).clamp_min(0.0)
    d2 = _grid_mm(uv, scale, h, w)
    total = weight.sum((-2, -1))
    spread = torch.sqrt((weight * d2).sum((-2, -1)) / total.clamp_min(1e-12))
    return torch.where(total > 0, spread, torch.full_like(spread, float("nan"))).numpy()


def _second_peak(mean, uv, peak, scale, min_separation_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Best local maximum (3×3) at least ``min_separation_mm`` from ``uv``: its height ratio
    to the peak (0 if none) and its whole-pixel (u, v) (NaN if none)."""
    b, k, h, w = mean.shape
    pooled = F.max_pool2d(mean.reshape(b * k, 1, h, w), 3, stride=1, padding=1).reshape(b, k, h, w)
    local = (mean >= pooled) & (mean > 1e-6)
    far = _grid_mm(uv, scale, h, w) >= min_separation_mm**2
    candidates = torch.where(local & far, mean, torch.zeros_like(mean)).reshape(b, k, -1)
    height, idx = candidates.max(-1)
    height = height.double()
    found = height > 0
    ratio = torch.where(peak > 0, height / peak.clamp_min(1e-12), torch.zeros_like(height))
    second_uv = torch.stack([(idx % w).double(), (idx // w).double()], -1)
    second_uv[~found] = float("nan")
    return ratio.clamp(0.0, 1.0).numpy(), second_uv.numpy()


def heatmap_to_image_xy(
    uv: np.ndarray, scale: tuple[float, float], translate: tuple[float, float]
) -> np.ndarray:
    """Heatmap (u, v) px → image (x, y) px with a Prediction's ``heatmap_scale`` and
    ``heatmap_translate`` (both (row, col): ``image = index · scale + translate``)."""
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack(
        [uv[..., 0] * scale[1] + translate[1], uv[..., 1] * scale[0] + translate[0]], -1
    )
