"""Spectral helpers for periodic structures along one image axis (ruler ticks).

Profiles are 1-D arrays along the ruler (rows of a vertical ruler), in pixels of the image
they were cut from; frequencies are cycles per pixel, periods pixels per cycle.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft


def band_profiles(image: np.ndarray, band: int, remove_common: bool = True) -> np.ndarray:
    """``(rows, cols)`` → ``(rows, cols // band)``: the mean of each ``band``-wide column
    band, minus (``remove_common``) the row's median over all bands.

    The median removes what crosses the whole image (stitching seams, positioning-grid
    lines, a periodic detector or grid pattern): a ruler is narrow, so it survives.
    """
    rows, cols = image.shape
    n = max(cols // band, 1)
    width = min(band, cols)
    prof = image[:, : n * width].reshape(rows, n, width).mean(axis=2, dtype=np.float32)
    if remove_common and n >= 3:
        prof -= np.median(prof, axis=1, keepdims=True)
    return prof


def segment_spectra(profiles: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Power spectra of the first difference of ``profiles`` ``(rows, bands)`` in
    half-overlapping Hann-windowed segments of ``length`` rows.

    Returns ``(power, starts)``: power ``(segments, length // 2 + 1, bands)``, and each
    segment's first row. The difference whitens smooth anatomy (soft-tissue edges) so a
    tick line stands above its spectral neighbourhood.
    """
    d = np.diff(profiles, axis=0)
    length = min(length, d.shape[0])
    hop = max(length // 2, 1)
    starts = np.arange(0, d.shape[0] - length + 1, hop)
    idx = starts[:, None] + np.arange(length)[None, :]
    x = d[idx]  # (segments, length, bands)
    x = x - x.mean(axis=1, keepdims=True)
    x *= np.hanning(length).astype(np.float32)[None, :, None]
    return np.abs(fft.rfft(x, axis=1)) ** 2, starts  # scipy's: fast at any length


def line_scores(power: np.ndarray, neighbourhood: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """For ``power`` ``(segments, freqs, bands)``: how far each value stands above its own
    spectral neighbourhood (``sharpness``: a periodic pattern is a narrow line) and above
    the same frequency in the other bands (``localisation``: a ruler is narrow).

    The neighbourhood floor is the median of blocks of ``2·neighbourhood`` bins (a line a
    few bins wide does not move it), interpolated between block centres: a running median
    costs ~10× more for the same decisions."""
    floor = _block_median(power, 2 * neighbourhood)
    sharpness = power / (floor + 1e-20)
    across = np.median(power, axis=2, keepdims=True)
    localisation = power / (across + 1e-20)
    return sharpness, localisation


def _block_median(power: np.ndarray, block: int) -> np.ndarray:
    """Median of ``block``-bin blocks along axis 1, linearly interpolated back."""
    n = power.shape[1]
    blocks = max(n // block, 1)
    size = n // blocks
    medians = np.median(power[:, : blocks * size].reshape(power.shape[0], blocks, size, -1), axis=2)
    if blocks == 1:
        return np.repeat(medians, n, axis=1)
    centres = (np.arange(blocks) + 0.5) * size - 0.5
    pos = np.clip(np.arange(n), centres[0], centres[-1])
    i = np.clip(np.searchsorted(centres, pos) - 1, 0, blocks - 2)
    t = ((pos - centres[i]) / size)[None, :, None]
    return medians[:, i] * (1 - t) + medians[:, i + 1] * t


def welch(profiles: np.ndarray, length: int) -> np.ndarray:
    """Segment-averaged power spectra ``(freqs, bands)`` of the differenced profiles.

    Averaging segments (rather than one spectrum of the whole length) keeps a line sharp
    when the period drifts by a percent along the film (stitched cassettes, a ruler
    slightly out of the detector plane), at a frequency resolution of 1/``length``."""
    power, _ = segment_spectra(profiles, length)
    return power.mean(axis=0)


def segment_frequency(
    profile: np.ndarray, f0: float, length: int
) -> tuple[float, float, np.ndarray]:
    """The line near ``f0`` measured in each half-overlapping segment of ``length``:
    the power-weighted mean frequency, its standard error (spread / √segments), and the
    line's power in each segment (where along the profile it is seen).

    Each segment's peak: its Hann-windowed spectrum zero-padded 8× (all segments in one
    FFT), the highest bin within one bin of ``f0``, refined by a parabola."""
    hop = max(length // 2, 1)
    starts = np.arange(0, max(len(profile) - length, 0) + 1, hop)
    x = profile[starts[:, None] + np.arange(min(length, len(profile)))[None, :]]
    x = (x - x.mean(axis=1, keepdims=True)) * np.hanning(x.shape[1])[None, :]
    pad = 8 * x.shape[1]
    power = np.abs(fft.rfft(x, n=pad, axis=1)) ** 2
    lo = max(int((f0 - 1.0 / length) * pad), 1)
    hi = min(int((f0 + 1.0 / length) * pad) + 2, power.shape[1] - 1)
    k = lo + np.argmax(power[:, lo:hi], axis=1)
    rows = np.arange(len(k))
    a_, b_, c_ = power[rows, k - 1], power[rows, k], power[rows, k + 1]
    den = a_ - 2 * b_ + c_
    shift = np.where(den < 0, 0.5 * (a_ - c_) / np.where(den < 0, den, -1.0), 0.0)
    est = (k + np.clip(shift, -0.5, 0.5)) / pad
    w = b_ / b_.sum()
    mean = float(w @ est)
    n_eff = 1.0 / float(w @ w)
    spread = float(np.sqrt(w @ (est - mean) ** 2))
    floor = 0.05 / length  # the precision of one segment's peak
    return mean, max(spread, floor) / math.sqrt(max(n_eff / 2, 1.0)), b_
