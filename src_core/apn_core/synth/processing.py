"""Image processing of DR/CR systems: detected intensity → displayed image (bone bright, 0–1).

Log transform; latitude compression (subtracting part of the large-scale signal so bone
stands out of the soft tissue) and unsharp masking (edge enhancement), as DR/CR
processing does; stitching lines; windowing (possibly clipping); a tone curve (log,
linear or film-like S-curve); global or local histogram equalisation; gamma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apn_core.synth.acquisition import Acquisition
from apn_core.synth.draws import Draws, chance, pick, uniform
from apn_core.synth.filters import broad_blur, smooth
from apn_core.synth.projection import Grid

LUTS = ("log", "linear", "s-curve")
POOL_MM = 2.0  # block size of the statistics (window, histogram)
DETAIL_MM = 0.35  # unsharp masking enhances structures above this size (not pixel noise)
EQUALISERS = ("global", "local")


@dataclass(frozen=True)
class ProcessingPriors:
    """Distributions of the display processing (ranges uniform).

    luts: tone curves drawn from: log (grey ∝ attenuation, the usual), linear (grey ∝
        transmitted intensity, inverted: dense bone compressed), s-curve (film-like sigmoid).
    latitude: fraction of the large-scale (20 mm) log signal subtracted (DR latitude
        compression; 0 = none).
    unsharp: unsharp-masking amount (edge enhancement of structures between 0.35 mm and
        ``unsharp_mm``, like multi-frequency DR processing; pixel noise is not boosted).
    equalise: probability of histogram equalisation, of a kind from ``equalisers``
        (global: the whole histogram; local: contrast normalised in ``equalise_mm``
        neighbourhoods, like CLAHE), blended in by ``equalise_blend``.
    window: where the display window's ends sit, as a fraction of the signal range
        beyond (−) or inside (+) the 0.5 % and 99.5 % quantiles; + clips the extremes.
    gamma: display gamma (v ** gamma).
    s_slope: steepness of the S-curve.
    linear_c: compression of the linear curve (1 − e^(−c·v)) / (1 − e^(−c)).
    """

    luts: tuple[str, ...] = ("log",)
    latitude: tuple[float, float] = (0.45, 0.7)
    unsharp: tuple[float, float] = (0.0, 0.3)
    unsharp_mm: tuple[float, float] = (1.0, 4.0)
    equalise: float = 0.0
    equalisers: tuple[str, ...] = EQUALISERS
    equalise_blend: tuple[float, float] = (0.4, 1.0)
    equalise_mm: tuple[float, float] = (15.0, 40.0)
    window: tuple[float, float] = (-0.1, 0.0)
    gamma: tuple[float, float] = (0.8, 1.25)
    s_slope: tuple[float, float] = (4.0, 9.0)
    linear_c: tuple[float, float] = (1.5, 3.5)


@dataclass
class Processing:
    """The processing of one radiograph (saved in the case metadata)."""

    lut: str
    latitude: float
    unsharp: float
    unsharp_mm: float
    equaliser: str | None
    equalise_blend: float
    equalise_mm: float
    window: tuple[float, float]
    gamma: float
    s_slope: float
    linear_c: float

    @classmethod
    def sample(cls, draws: Draws, pri: ProcessingPriors) -> Processing:
        rng = draws("processing")
        lut = pick(rng, pri.luts or ("log",))
        kind = pick(rng, pri.equalisers or EQUALISERS)
        equalised = chance(rng, pri.equalise)
        return cls(
            lut=lut,
            latitude=uniform(rng, pri.latitude),
            unsharp=uniform(rng, pri.unsharp),
            unsharp_mm=uniform(rng, pri.unsharp_mm),
            equaliser=kind if equalised else None,
            equalise_blend=uniform(rng, pri.equalise_blend),
            equalise_mm=uniform(rng, pri.equalise_mm),
            window=(uniform(rng, pri.window), uniform(rng, pri.window)),
            gamma=uniform(rng, pri.gamma),
            s_slope=uniform(rng, pri.s_slope),
            linear_c=uniform(rng, pri.linear_c),
        )


def process(
    intensity: np.ndarray,
    grid: Grid,
    proc: Processing,
    acq: Acquisition,
    exposed: np.ndarray | None = None,
) -> np.ndarray:
    """Displayed image in 0–1 (float32, bone bright). ``exposed``: pixels inside the
    collimated field (the window and histograms are taken there)."""
    s = grid.spacing
    log_img = -np.log(np.maximum(intensity, 1e-4))
    if proc.latitude > 0:  # metal is left out of the background, so it stays the brightest
        cap = float(np.quantile(_sample(log_img, exposed, s), 0.98))
        log_img -= proc.latitude * broad_blur(np.minimum(log_img, cap), s, sigma_mm=20.0)
    if proc.unsharp > 0 and proc.unsharp_mm / s > 0.5:  # a band: edges, not pixel noise
        fine = smooth(log_img, DETAIL_MM / s) if DETAIL_MM / s > 0.3 else log_img
        log_img += proc.unsharp * (fine - smooth(log_img, proc.unsharp_mm / s))
    width = max(1, round(0.6 / s))
    for r in acq.seam_rows(s):  # the stitching line itself: a thin bright or dark band
        log_img[max(r - width, 0) : r + width] += acq.seam_line
    v = _window(log_img, proc, exposed, s)
    v = _tone_curve(v, proc)
    if proc.equaliser == "global":
        v = (1 - proc.equalise_blend) * v + proc.equalise_blend * _equalise_global(v, exposed, s)
    elif proc.equaliser == "local":
        v = (1 - proc.equalise_blend) * v + proc.equalise_blend * _equalise_local(v, s, proc)
    v = np.minimum(np.maximum(v, 0.0), 1.0)
    return v if abs(proc.gamma - 1.0) < 1e-6 else v**proc.gamma


def _sample(img: np.ndarray, exposed: np.ndarray | None, spacing: float) -> np.ndarray:
    """The image's values on ~2 mm blocks (means: the same statistics at any pixel size, and
    pixel noise does not widen the window), inside the collimated field where there is one."""
    f = max(1, round(POOL_MM / spacing))
    r2, c2 = max(img.shape[0] // f, 1), max(img.shape[1] // f, 1)
    if f > 1 and img.shape[0] >= f and img.shape[1] >= f:
        pooled = img[: r2 * f, : c2 * f].reshape(r2, f, c2, f).mean(axis=(1, 3))
        mask = (
            None
            if exposed is None
            else exposed[: r2 * f, : c2 * f].reshape(r2, f, c2, f).all(axis=(1, 3))
        )
    else:
        pooled, mask = img, exposed
    if mask is not None and mask.sum() > 100:
        return pooled[mask]
    return pooled.ravel()


def _window(log_img: np.ndarray, proc: Processing, exposed, spacing: float) -> np.ndarray:
    lo, hi = np.quantile(_sample(log_img, exposed, spacing), [0.005, 0.995])
    span = max(hi - lo, 1e-6)
    lo += proc.window[0] * span
    hi -= proc.window[1] * span
    v = (log_img - lo) * (1.0 / max(hi - lo, 1e-6))
    return np.minimum(np.maximum(v, 0.0, out=v), 1.0, out=v)


def _tone_curve(v: np.ndarray, proc: Processing) -> np.ndarray:
    if proc.lut == "linear":  # grey ∝ transmitted intensity: exponential in attenuation
        c = proc.linear_c
        return (1.0 - np.exp(-c * v)) / (1.0 - np.exp(-c))
    if proc.lut == "s-curve":
        a = proc.s_slope
        lo, hi = 1 / (1 + np.exp(a / 2)), 1 / (1 + np.exp(-a / 2))
        return (1 / (1 + np.exp(-a * (v - 0.5))) - lo) / (hi - lo)
    return v


def _equalise_global(v: np.ndarray, exposed, spacing: float) -> np.ndarray:
    hist, edges = np.histogram(_sample(v, exposed, spacing), bins=256, range=(0.0, 1.0))
    cdf = np.cumsum(hist).astype(np.float64)
    cdf /= max(cdf[-1], 1.0)
    return np.interp(v, edges[1:], cdf).astype(np.float32)


def _equalise_local(v: np.ndarray, spacing: float, proc: Processing) -> np.ndarray:
    mean = broad_blur(v, spacing, proc.equalise_mm)
    sq = broad_blur(v * v, spacing, proc.equalise_mm)
    sd = np.sqrt(np.clip(sq - mean * mean, 4e-4, None))
    return np.clip(0.5 + 0.22 * (v - mean) / sd, 0.0, 1.0)
