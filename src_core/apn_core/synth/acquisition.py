"""Detector physics: attenuation → detected intensity of a stitched long-leg exposure.

Order follows the physics: primary beam exp(−Σμt) with a heel-effect gradient and the
collimator blades (lead: almost no primary outside the field); scatter (a broad blur of
the primary, added); per-exposure gain steps where 1–3 cassettes/detector positions were
stitched; anti-scatter grid lines (seen as moiré stripes at the detector's sampling);
quantum noise (Poisson) on the absorbed photons, then the scintillator/detector blur (so the
noise is correlated as on a real detector), then electronic readout noise; noise is applied
as relative noise in the log domain (its first-order form), so no count goes negative and
the log image is unbiased at any pixel size.
What the display chain does with it is :mod:`.processing`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from apn_core.synth.draws import Draws, chance, uniform
from apn_core.synth.filters import broad_blur
from apn_core.synth.projection import Grid

PHOTONS_PER_MM2 = 1.0e5  # at the detector, per mm², for an unattenuated beam
BLADE_TRANSMISSION = 0.02  # primary left behind a collimator blade
REFERENCE_PIXEL_MM = 0.15  # electronic noise SD is given for pixels this size
MAX_RELATIVE_NOISE = 1.0  # behind metal the counts are few; the log-domain SD stops here


@dataclass(frozen=True)
class AcquisitionPriors:
    """Distributions of the exposure (ranges uniform).

    exposures: how many stitched exposures make an image taller than 60 cm (1 = one long
        detector, no seam).
    gain_step: largest relative gain difference between stitched exposures.
    seam_line: probability that a seam also shows as a thin bright or dark line.
    scatter: scatter-to-primary fraction (higher without an anti-scatter grid).
    heel: largest heel-effect gradient from top to bottom (relative).
    grid_lines: probability of visible anti-scatter grid lines; ``grid_period_mm`` their
        (aliased) period and ``grid_contrast`` their relative amplitude.
    blur_mm: detector and focal-spot blur (Gaussian SD).
    dose: factor on the photon fluence (quantum noise ∝ 1/√dose).
    electronic_noise: SD of additive detector noise, relative to the unattenuated signal,
        for 0.15 mm pixels (coarser pixels average it down, as binning does).
    collimation: probability, per image edge, that the collimator blades are inside the
        image; ``collimation_mm`` how far in (never closer than 25 mm to a landmark).
    """

    exposures: tuple[int, int] = (2, 3)
    gain_step: float = 0.1
    seam_line: float = 1.0
    scatter: tuple[float, float] = (0.1, 0.35)
    heel: float = 0.12
    grid_lines: float = 0.0
    grid_period_mm: tuple[float, float] = (1.2, 4.0)
    grid_contrast: tuple[float, float] = (0.01, 0.05)
    blur_mm: tuple[float, float] = (0.12, 0.35)
    dose: tuple[float, float] = (0.5, 2.0)
    electronic_noise: tuple[float, float] = (0.0, 0.0005)
    collimation: float = 0.0
    collimation_mm: tuple[float, float] = (5.0, 60.0)


@dataclass
class Acquisition:
    """The exposure of one radiograph (saved in the case metadata).

    seams_mm: rows (mm from the image top) where exposures were stitched; gains per exposure.
    collimation_mm: (left, right, top, bottom) blade positions inside the image (0 = none).
    grid: (period mm, contrast, horizontal?) of grid lines, or None.
    """

    scatter_fraction: float
    heel: float
    seams_mm: tuple[float, ...]
    gains: tuple[float, ...]
    seam_line: float
    grid: tuple[float, float, bool] | None
    blur_mm: float
    photons_per_mm2: float
    electronic_noise: float
    collimation_mm: tuple[float, float, float, float]

    @classmethod
    def sample(
        cls, draws: Draws, pri: AcquisitionPriors, height_mm: float, free_mm: np.ndarray
    ) -> Acquisition:
        """``free_mm``: (left, right, top, bottom) room (mm) between the landmarks and each
        image edge; collimator blades stay at least 25 mm outside the landmarks."""
        rng = draws("acquisition")
        lo, hi = pri.exposures
        n_exp = int(rng.integers(lo, hi + 1)) if height_mm > 600 else 1
        jitter = rng.normal(0.0, 20.0, 3)
        seams = tuple(
            float(height_mm * (i + 1) / n_exp + jitter[i]) for i in range(max(n_exp - 1, 0))
        )
        gains = rng.uniform(1 - pri.gain_step, 1 + pri.gain_step, 4)[: len(seams) + 1]
        line_sign = float(rng.choice([-1.0, 1.0]))
        seam_line = line_sign * 0.04 if chance(rng, pri.seam_line) else 0.0
        grid_draw = (uniform(rng, pri.grid_period_mm), uniform(rng, pri.grid_contrast))
        horizontal = chance(rng, 0.3)
        grid = (*grid_draw, horizontal) if chance(rng, pri.grid_lines) else None
        coll_rng = draws("acquisition.collimation")
        blades = []
        for room in free_mm:
            depth = uniform(coll_rng, pri.collimation_mm)
            on = chance(coll_rng, pri.collimation)
            blades.append(float(min(depth, max(room - 25.0, 0.0))) if on else 0.0)
        return cls(
            scatter_fraction=uniform(rng, pri.scatter),
            heel=float(rng.uniform(-pri.heel, pri.heel)),
            seams_mm=seams,
            gains=tuple(float(g) for g in gains),
            seam_line=seam_line,
            grid=grid,
            blur_mm=uniform(rng, pri.blur_mm),
            photons_per_mm2=PHOTONS_PER_MM2 * uniform(rng, pri.dose),
            electronic_noise=uniform(rng, pri.electronic_noise),
            collimation_mm=tuple(blades),  # type: ignore[arg-type]
        )

    def seam_rows(self, spacing: float) -> list[int]:
        return [round(y / spacing) for y in self.seams_mm]


def collimated_mask(shape: tuple[int, int], spacing: float, acq: Acquisition) -> np.ndarray | None:
    """``(rows, cols)`` bool, True behind the collimator blades (None when there are none)."""
    left, right, top, bottom = (round(b / spacing) for b in acq.collimation_mm)
    if not (left or right or top or bottom):
        return None
    rows, cols = shape
    mask = np.zeros(shape, bool)
    mask[:, :left] = True
    mask[:, cols - right :] = True  # an empty slice when right == 0
    mask[:top] = True
    mask[rows - bottom :] = True
    return mask


def _blade_transmission(shape, spacing: float, acq: Acquisition) -> np.ndarray:
    """Primary transmitted past the collimator blades, with a 1.5 mm penumbra."""
    from scipy.special import erf

    left, right, top, bottom = acq.collimation_mm

    def open_fraction(n: int, lo_mm: float, hi_mm: float) -> np.ndarray:
        x = (np.arange(n, dtype=np.float32) + 0.5) * spacing
        s = 1.5 * np.sqrt(2.0)
        a = 0.5 * (1 + erf((x - lo_mm) / s)) if lo_mm else np.ones(n, np.float32)
        b = 0.5 * (1 + erf((n * spacing - hi_mm - x) / s)) if hi_mm else np.ones(n, np.float32)
        return (a * b).astype(np.float32)

    open_ = open_fraction(shape[0], top, bottom)[:, None] * open_fraction(shape[1], left, right)
    return BLADE_TRANSMISSION + (1.0 - BLADE_TRANSMISSION) * open_


def acquire(
    mu_t: np.ndarray, grid: Grid, acq: Acquisition, rng: np.random.Generator, noise_scale=1.0
) -> np.ndarray:
    """Detected intensity (float32, 1 = unattenuated beam) of the attenuation map ``mu_t``."""
    s = grid.spacing
    rows, cols = mu_t.shape
    intensity = np.exp(-mu_t, dtype=np.float32)
    ramp = np.linspace(-0.5, 0.5, rows, dtype=np.float32)[:, None]
    intensity *= 1.0 + acq.heel * ramp
    if any(acq.collimation_mm):
        intensity *= _blade_transmission(mu_t.shape, s, acq)
    intensity += acq.scatter_fraction * broad_blur(intensity, s, sigma_mm=30.0)
    bounds = [0, *acq.seam_rows(s), rows]
    for gain, (a, b) in zip(acq.gains, itertools.pairwise(bounds), strict=True):
        intensity[a:b] *= gain
    if acq.grid is not None:
        period, contrast, horizontal = acq.grid
        n = rows if horizontal else cols
        stripes = 1.0 + contrast * np.cos(2 * np.pi * np.arange(n, dtype=np.float32) * s / period)
        intensity *= stripes[:, None] if horizontal else stripes[None, :]
    photons = acq.photons_per_mm2 * s * s
    if noise_scale > 0:  # quantum noise on the absorbed photons, before the scintillator spread
        quantum = 1.0 / np.sqrt(photons * np.maximum(intensity, 1e-6))
        _relative_noise(intensity, quantum, rng, noise_scale)
    sigma_px = acq.blur_mm / s
    if sigma_px > 0.3:
        intensity = ndimage.gaussian_filter(intensity, sigma_px, mode="nearest")
    if noise_scale > 0 and acq.electronic_noise > 0:  # readout noise, per pixel
        electronic = acq.electronic_noise * REFERENCE_PIXEL_MM / s  # coarse pixels: binned
        _relative_noise(intensity, electronic / np.maximum(intensity, 1e-6), rng, noise_scale)
    return intensity


def _relative_noise(intensity, relative, rng, scale: float) -> None:
    """Multiply by exp(N(0, relative)): relative (log-domain) noise, in place. No count goes
    negative and the log image stays unbiased (the first-order form of Poisson noise)."""
    noise = rng.standard_normal(intensity.shape, dtype=np.float32)
    intensity *= np.exp(noise * np.minimum(relative, MAX_RELATIVE_NOISE) * scale)
