"""Detector model: attenuation → stored pixel values of a stitched long-leg radiograph.

Order follows the physics: primary beam exp(−Σμt) with a heel-effect gradient; scatter
(a broad blur of the primary, added); per-exposure gain steps and seam lines where the
cassettes/exposures were stitched; detector blur; quantum noise (Poisson, Gaussian
approximation); log transform (bone bright); the latitude compression of clinical DR
processing (subtracting part of the large-scale signal, so bone stands out from the soft
tissue); windowing and gamma into 12–16 bits.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from apn_core.synth.projection import Grid

PHOTONS_PER_MM2 = 2.5e4  # after the patient, at the detector, for an unattenuated beam


@dataclass
class Exposure:
    """Random acquisition settings of one radiograph (saved in the case metadata)."""

    scatter_fraction: float
    heel: float
    seams_mm: tuple[float, ...]
    gains: tuple[float, ...]
    blur_mm: float
    photons_per_mm2: float
    gamma: float
    compression: float
    bits: int

    @classmethod
    def sample(cls, rng: np.random.Generator, height_mm: float) -> Exposure:
        n_seams = int(rng.integers(1, 3)) if height_mm > 600 else 0  # 2 or 3 exposures
        seams = tuple(
            float(height_mm * (i + 1) / (n_seams + 1) + rng.normal(0.0, 20.0))
            for i in range(n_seams)
        )
        return cls(
            scatter_fraction=float(rng.uniform(0.15, 0.45)),
            heel=float(rng.uniform(-0.12, 0.12)),
            seams_mm=seams,
            gains=tuple(float(g) for g in rng.uniform(0.9, 1.1, len(seams) + 1)),
            blur_mm=float(rng.uniform(0.12, 0.35)),
            photons_per_mm2=PHOTONS_PER_MM2 * float(rng.uniform(0.5, 2.0)),
            gamma=float(rng.uniform(0.8, 1.25)),
            compression=float(rng.uniform(0.45, 0.7)),
            bits=int(rng.choice([12, 14, 16])),
        )


def expose(
    mu_t: np.ndarray,
    grid: Grid,
    exposure: Exposure,
    rng: np.random.Generator,
    noise_scale: float = 1.0,
) -> np.ndarray:
    """Turn total attenuation ``mu_t`` into stored uint16 values, bone bright."""
    s = grid.spacing
    rows = mu_t.shape[0]
    intensity = np.exp(-mu_t)
    ramp = np.linspace(-0.5, 0.5, rows, dtype=np.float32)[:, None]
    intensity *= 1.0 + exposure.heel * ramp
    intensity += exposure.scatter_fraction * _broad_blur(intensity, s, sigma_mm=30.0)
    seam_rows = [round(y / s) for y in exposure.seams_mm]
    bounds = [0, *seam_rows, rows]
    for gain, (a, b) in zip(exposure.gains, itertools.pairwise(bounds), strict=True):
        intensity[a:b] *= gain
    sigma_px = exposure.blur_mm / s
    if sigma_px > 0.3:
        intensity = ndimage.gaussian_filter(intensity, sigma_px, mode="nearest")
    if noise_scale > 0:
        photons = exposure.photons_per_mm2 * s * s
        noise = rng.standard_normal(intensity.shape, dtype=np.float32)
        intensity += noise * np.sqrt(np.clip(intensity, 1e-6, None) / photons) * noise_scale
    log_img = -np.log(np.clip(intensity, 1e-4, None))
    log_img -= exposure.compression * _broad_blur(log_img, s, sigma_mm=20.0)
    for r in seam_rows:  # the stitching line itself: a thin bright/dark band
        width = max(1, round(0.6 / s))
        log_img[max(r - width, 0) : r + width] += float(rng.choice([-1, 1])) * 0.04
    return _window(log_img, exposure, rng)


def _broad_blur(image: np.ndarray, spacing: float, sigma_mm: float) -> np.ndarray:
    """Gaussian blur with a large kernel, computed on a 4 mm grid and interpolated back."""
    factor = max(1, round(4.0 / spacing))
    rows, cols = image.shape
    small = image[: rows - rows % factor or rows, : cols - cols % factor or cols]
    r2, c2 = small.shape[0] // factor, small.shape[1] // factor
    if r2 < 2 or c2 < 2:
        return ndimage.gaussian_filter(image, sigma_mm / spacing, mode="nearest")
    small = small[: r2 * factor, : c2 * factor].reshape(r2, factor, c2, factor).mean(axis=(1, 3))
    small = ndimage.gaussian_filter(small, sigma_mm / (spacing * factor), mode="nearest")
    return ndimage.zoom(small, (rows / r2, cols / c2), order=1, mode="nearest", grid_mode=True)[
        :rows, :cols
    ]


def _window(log_img: np.ndarray, exposure: Exposure, rng: np.random.Generator) -> np.ndarray:
    sample = log_img[:: max(1, log_img.shape[0] // 256), :: max(1, log_img.shape[1] // 128)]
    lo, hi = np.quantile(sample, [0.005, 0.995])
    lo -= float(rng.uniform(0.0, 0.1)) * (hi - lo)
    hi += float(rng.uniform(0.0, 0.1)) * (hi - lo)
    v = np.clip((log_img - lo) / max(hi - lo, 1e-6), 0.0, 1.0) ** exposure.gamma
    top = 2**exposure.bits - 1
    return np.round(v * top).astype(np.uint16)
