"""A radiopaque ruler on the film: where it is, its period, and what that period is in mm.

**Finding it** (:func:`locate_ruler`, on the reduced copy, along the film's long axis):
the image is cut into narrow column bands, each band's profile along the ruler is
differenced (smooth anatomy vanishes) and its spectrum taken in overlapping segments. A
ruler is a *sharp* line in that spectrum (far above its spectral neighbourhood) that is
*local* (far above the same frequency in the other bands). What crosses the whole film —
stitching seams, positioning-grid lines — is removed first by subtracting each row's
median over all bands; a pattern that survives that (anti-scatter grid lines, whose
contrast follows the exposure; a resampling pattern) is refused when it is sharp in many
bands or in phase and as strong far from the candidate, with its harmonics. JPEG's 8-px
block grid is never a candidate.

**Measuring it** (:func:`measure_ruler`, on the ruler's strip at full resolution): the
sharp, local lines of the strip's bands are the ruler's levels and their harmonics (and,
for ticks finer than two pixels, their aliases); their common base frequency
(:func:`~.ticks.harmonic_base`) is the ruler's repeating unit, the finest level in it
(:func:`~.ticks.finest_level`) and the film's length say which unit in mm it is
(:func:`~.ticks.choose_base`). The strongest line seen directly (not folded) is measured
segment by segment along the ruler (:func:`~.spectrum.segment_frequency`: a drift of a
percent between stitched cassettes is averaged, its spread is the uncertainty), and the
ruler must be seen over ≥ ``min_ticks`` periods and ``min_length_mm`` (a plate's row of
screws is not).

Coordinates: ``box`` is ``(row0, row1, col0, col1)`` in pixels of the image given; a
ruler is assumed to run along the film's long axis (within ~2°), and the pixels square.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from apn_core.calibration_object.spectrum import (
    band_profiles,
    line_scores,
    segment_frequency,
    segment_spectra,
    welch,
)
from apn_core.calibration_object.ticks import (
    BY_LENGTH,
    choose_base,
    describe,
    finest_level,
    harmonic_base,
    on_harmonics,
)

MEASURE_COLUMNS = 48  # columns of the strip the measurement reads (evenly spaced)
BASE_LINE_SHARE = 0.02  # lines this strong (of the strongest) must sit on harmonics of the unit
FILM_WIDE_COHERENCE = 0.5  # mean phase agreement of far bands that marks a film-wide line
REFERENCE_COLUMNS = 12  # columns away from it that show what the whole film shows


@dataclass(frozen=True)
class RulerSettings:
    """Thresholds of the ruler search (defaults measured on synthetic and OAI films).

    bands: column bands across the searched image; segment_rows: rows per spectrum
        segment in the search (at most; a third of the image when shorter);
    min_sharpness: a line's power over the median of its spectral neighbourhood;
    min_localisation: over the median of the same frequency in all bands;
    line_sharpness / line_localisation: the same, for the lines of a found ruler's strip
        (its tick levels and harmonics, weaker than the line that found it);
    widest_fraction: a line sharp in more of the bands than this is a film-wide pattern,
        and a ruler is never wider;
    shortest_period_px: ticks finer than this are not resolved; min_periods: periods a
        segment must hold; min_ticks: periods of its strongest line the visible ruler must
        show;
    min_length_mm: the visible ruler must be at least this long (a plate's row of screws,
        a screw's thread are shorter);
    length_decides: where the ruler's levels leave readings 2× apart (its finer ticks
        unseen: cut off, or finer than the pixels) and no spacing is known, the reading
        that makes the film nearer a typical adult long-leg film is taken; ``False``
        refuses instead (children's films, 0.5–0.7 m long, then read 2×).
    """

    bands: int = 64
    segment_rows: int = 512
    min_sharpness: float = 25.0
    min_localisation: float = 12.0
    line_sharpness: float = 6.0
    line_localisation: float = 4.0
    widest_fraction: float = 0.35
    shortest_period_px: float = 2.2
    min_periods: float = 10.0
    min_ticks: int = 20
    min_length_mm: float = 100.0
    length_decides: bool = True


@dataclass(frozen=True)
class RulerCandidate:
    """Where a ruler seems to be (search stage): its strip and its strongest period."""

    axis: str  # "vertical" (along rows) or "horizontal"
    box: tuple[int, int, int, int]  # (row0, row1, col0, col1) px of the searched image
    period_px: float
    score: float


@dataclass(frozen=True)
class RulerReading:
    """A measured ruler: spacing in mm/px along it, and how it was read."""

    spacing_mm: float
    uncertainty_mm: float
    period_px: float  # of the dominant tick level, px of the measured image
    tick_mm: float  # physical length of that period
    base_mm: float  # the ruler's repeating unit
    axis: str
    box: tuple[int, int, int, int]
    reading: str
    length_decided: bool  # the film's length, not the hierarchy, chose between readings


def locate_ruler(image: np.ndarray, settings: RulerSettings | None = None) -> RulerCandidate | None:
    """The most ruler-like strip of ``image`` (2-D, any scale) along its long axis — where
    a ruler lies on a long-leg film — or ``None``."""
    cfg = settings or RulerSettings()
    axis = "vertical" if image.shape[0] >= image.shape[1] else "horizontal"
    a = image if axis == "vertical" else image.T
    found = _locate_along_rows(np.asarray(a, np.float32), cfg)
    if found is None:
        return None
    score, box, period = found
    if axis == "horizontal":
        box = (box[2], box[3], box[0], box[1])
    return RulerCandidate(axis, box, period, score)


def _locate_along_rows(a: np.ndarray, cfg: RulerSettings):
    rows, cols = a.shape
    if rows < 64 or cols < 8:
        return None
    band = max(2, cols // cfg.bands)
    length = int(min(cfg.segment_rows, max(rows // 3, 64))) // 2 * 2
    raw = band_profiles(a, band, remove_common=False)
    profiles = raw - np.median(raw, axis=1, keepdims=True)
    power, starts = segment_spectra(profiles, length)
    freqs = np.fft.rfftfreq(length)
    ok = (freqs >= cfg.min_periods / length) & (freqs <= 1.0 / cfg.shortest_period_px)
    ok &= ~_on_jpeg_grid(freqs, length)
    sharp, local = line_scores(power)
    hit = (sharp >= cfg.min_sharpness) & (local >= cfg.min_localisation) & ok[None, :, None]
    score = np.where(hit, np.minimum(sharp, local), 0.0)
    # a pattern across the film (anti-scatter grid lines, whose contrast follows the local
    # exposure so the median does not remove them everywhere; a detector pattern) is not
    # a ruler: sharp in many bands, or in phase far from the candidate. Drop it, look again
    wide = (sharp >= cfg.line_sharpness).mean(axis=2) > cfg.widest_fraction  # (seg, freq)
    for _ in range(8):
        if not score.any():
            return None
        s0, k0, b0 = np.unravel_index(int(np.argmax(score)), score.shape)
        rows_s0 = slice(int(starts[s0]), int(starts[s0]) + length + 1)
        if not wide[s0, k0] and not _film_wide(raw[rows_s0], freqs[k0], b0):
            break
        for ratio in (1 / 3, 1 / 2, 1, 2, 3):  # the pattern, its harmonics and sidebands
            k = round(k0 * ratio)
            half = max(2, round(0.06 * k))
            score[:, max(k - half, 0) : k + half + 1, :] = 0.0
    else:
        return None
    f0 = freqs[k0]
    # cells of the same ruler: a hit at the same period or a level/harmonic of it
    related = np.zeros(len(freqs), bool)
    for r in (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 10.0):
        related |= np.abs(freqs - f0 * r) <= max(0.03 * f0 * r, 1.5 / length)
    cells = (score > 0)[:, related, :].any(axis=1)  # (segments, bands)
    band_hits = cells.any(axis=0)
    b_lo = b_hi = b0
    while b_lo > 0 and (band_hits[b_lo - 1] or (b_lo > 1 and band_hits[b_lo - 2])):
        b_lo -= 1
    while b_hi < len(band_hits) - 1 and (
        band_hits[b_hi + 1] or (b_hi < len(band_hits) - 2 and band_hits[b_hi + 2])
    ):
        b_hi += 1
    if (b_hi - b_lo + 1) > cfg.widest_fraction * len(band_hits):
        return None
    seg_hits = np.flatnonzero(cells[:, b_lo : b_hi + 1].any(axis=1))
    r0 = int(starts[seg_hits.min()])
    r1 = int(min(starts[seg_hits.max()] + length + 1, rows))
    c0 = max(b_lo * band - band, 0)
    c1 = min((b_hi + 1) * band + band, cols)
    return float(score[s0, k0, b0]), (r0, r1, c0, c1), float(1.0 / f0)


def _visible_rows(profile: np.ndarray, f: float) -> float:
    """Rows over which the line at ``f`` is seen in ``profile``: its complex envelope
    (demodulated, averaged over 4 periods) at ≥ 30 % of its 95th percentile. A plate's
    few screws make a line too, but only over their short stretch."""
    t = np.arange(len(profile))
    z = (profile - profile.mean()) * np.exp(-2j * np.pi * f * t)
    width = max(round(4.0 / f), 3)
    smooth = uniform_filter1d(z.real, width) + 1j * uniform_filter1d(z.imag, width)
    envelope = np.abs(smooth)
    top = float(np.percentile(envelope, 95))
    return float((envelope >= 0.3 * top).sum()) if top > 0 else 0.0


def _on_jpeg_grid(freqs: np.ndarray, length: int) -> np.ndarray:
    """Frequencies of JPEG's 8-pixel block grid (k/8 cycles/px, within a bin): block edges
    along a strong edge make a sharp, local line there that is no ruler."""
    grid = np.arange(1, 5) / 8.0
    return np.any(np.abs(freqs[:, None] - grid[None, :]) <= 0.6 / length, axis=1)


def _film_wide(raw: np.ndarray, f0: float, b0: int) -> bool:
    """True when the line at ``f0`` in band ``b0`` is, in the bands far from it, in phase
    and at least half as strong (``raw``: ``(rows, bands)`` profiles, the film-wide median
    not removed): one pattern across the film — where the median removal made a "line" of
    a band that merely shows less of it (a dark or collimated stretch). A ruler stands
    well above whatever its far neighbours show at its frequency (on the OAI films a
    resampling pattern shares the ruler's periods, several times weaker)."""
    bands = raw.shape[1]
    far = np.abs(np.arange(bands) - b0) >= max(bands // 8, 2)
    if far.sum() < 4:
        return False
    d = np.diff(raw, axis=0)
    n = d.shape[0]
    carrier = np.exp(-2j * np.pi * f0 * np.arange(n)) * np.hanning(n)
    z = carrier @ (d - d.mean(axis=0))
    unit = z / np.maximum(np.abs(z), 1e-20)
    coherence = abs(np.mean(unit[far] * np.conj(unit[b0])))
    strength = float(np.median(np.abs(z[far]))) / max(float(abs(z[b0])), 1e-20)
    return bool(coherence > FILM_WIDE_COHERENCE and strength >= 0.5)


@dataclass(frozen=True)
class _Line:
    frequency: float
    power: float  # of the differenced profile
    band: int


def measure_ruler(
    image: np.ndarray,
    candidate: RulerCandidate,
    long_side_px: float,
    settings: RulerSettings | None = None,
    expected: tuple[float, float] | None = None,
) -> RulerReading | None:
    """Read the ruler in ``candidate.box`` of ``image`` (the full-resolution pixels the box
    refers to): its periods, what they are in mm (:mod:`.ticks`), and the spacing.

    ``long_side_px``: the film's long side in these pixels (the length check);
    ``expected``: a (low, high) mm/px range the spacing should fall in (from the file's
    own spacing), which decides between readings before the film's length does. Returns
    ``None`` when the strip shows no readable ruler (too few ticks, too short, or a
    pattern no standard ruler makes).
    """
    cfg = settings or RulerSettings()
    r0, r1, c0, c1 = candidate.box
    a = image if candidate.axis == "vertical" else image.T
    if candidate.axis == "horizontal":
        r0, r1, c0, c1 = c0, c1, r0, r1
    step = max((c1 - c0) // MEASURE_COLUMNS, 1)  # ticks run across: a few columns suffice
    strip = np.asarray(a[r0:r1, c0:c1:step], np.float32)
    rows, width = strip.shape
    if rows < 64 or width < 1:
        return None
    band = max(1, width // 16)
    length = int(min(max(rows // 3, 64), 1024)) // 2 * 2
    profiles = band_profiles(strip, band, remove_common=False)
    power = welch(profiles, length)  # (freqs, bands), of the differenced profiles
    length = 2 * (power.shape[0] - 1)
    lines = _strip_lines(power, _reference_profiles(a, r0, r1, c0, c1), length, cfg)
    if not lines:
        return None
    merged = _merge(lines, length)
    freqs = np.array([ln.frequency for ln in merged])
    weights = np.array([ln.power for ln in merged]) / (2 * np.abs(np.sin(np.pi * freqs)))
    keep = weights >= BASE_LINE_SHARE * weights.max()
    base0 = harmonic_base(freqs[keep], weights[keep], 2.0 / rows, length)
    if base0 is None:
        return None
    direct = on_harmonics(freqs, base0, length, aliased=False)
    if not direct.any():
        return None
    strongest = merged[int(np.flatnonzero(direct)[0])]  # measured where it is seen directly
    k = max(round(strongest.frequency / base0), 1)
    d = np.diff(profiles, axis=0)
    summed = _in_phase_sum(d, strongest)
    f, stderr, _ = segment_frequency(summed, strongest.frequency, length)
    if not math.isfinite(f) or f <= 0:
        return None
    base_f = f / k
    highest = int(1.0 / (cfg.shortest_period_px * base_f))
    n = finest_level(_harmonic_power(power, base_f, highest), highest)
    chosen = choose_base(base_f, n, long_side_px, expected, cfg.length_decides)
    if chosen is None:
        return None
    base_mm, how = chosen
    tick_mm = base_mm / n
    spacing = base_mm * base_f
    visible = _visible_rows(summed, f)
    if visible * f < cfg.min_ticks or visible * spacing < cfg.min_length_mm:
        return None
    box = (r0, r1, c0, c1) if candidate.axis == "vertical" else (c0, c1, r0, r1)
    return RulerReading(
        spacing_mm=spacing,
        uncertainty_mm=base_mm * stderr / k,
        period_px=tick_mm / spacing,
        tick_mm=tick_mm,
        base_mm=base_mm,
        axis=candidate.axis,
        box=box,
        reading=describe(tick_mm, base_mm, how),
        length_decided=how == BY_LENGTH,
    )


def _reference_profiles(a: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> np.ndarray | None:
    """Profiles of :data:`REFERENCE_COLUMNS` single columns spread over the film away from
    the strip (what the rest of the film shows there), or ``None`` when the strip fills
    the film. Single columns: on a full-size radiograph each column read costs a cache
    line per row, so a few columns are cheap and wide bands are not."""
    cols = a.shape[1]
    margin = max((c1 - c0) // 2, 2)
    candidates = np.linspace(0, cols - 1, 3 * REFERENCE_COLUMNS).astype(int)
    away = [int(c) for c in candidates if c < c0 - margin or c >= c1 + margin]
    if len(away) < 3:
        return None
    away = away[:: max(len(away) // REFERENCE_COLUMNS, 1)]
    return np.asarray(a[r0:r1, away], np.float32)


def _strip_lines(
    power: np.ndarray, reference: np.ndarray | None, length: int, cfg: RulerSettings
) -> list[_Line]:
    """Sharp lines of each band's spectrum (``power``: ``(freqs, bands)`` of the
    differenced profiles) that the rest of the film (``reference`` profiles) does not show."""
    freqs = np.fft.rfftfreq(length)
    sharp = line_scores(power[None])[0][0]
    if reference is not None:
        away = np.median(welch(reference, length), axis=1)
        local = power / (away[:, None] + 1e-20)
    else:
        local = np.full_like(power, np.inf)
    ok = (freqs >= cfg.min_periods / length) & (freqs <= 1.0 / cfg.shortest_period_px)
    ok &= ~_on_jpeg_grid(freqs, length)
    found: list[_Line] = []
    for b in range(power.shape[1]):
        p = power[:, b]
        peaks = (p[1:-1] >= p[:-2]) & (p[1:-1] >= p[2:])
        good = (
            peaks
            & (sharp[1:-1, b] >= cfg.line_sharpness)
            & (local[1:-1, b] >= cfg.line_localisation)
        )
        for k in np.flatnonzero(good & ok[1:-1]) + 1:
            a_, b_, c_ = p[k - 1], p[k], p[k + 1]
            den = a_ - 2 * b_ + c_
            shift = 0.5 * (a_ - c_) / den if den < 0 else 0.0
            found.append(_Line(float(freqs[k] + shift / length), float(b_), b))
    return found


def _merge(lines: list[_Line], length: int) -> list[_Line]:
    """One line per frequency (its strongest band), strongest first; lines within 1.5
    bins are one (a line's side lobes, or a band where it is weaker and shifted)."""
    merged: list[_Line] = []
    for ln in sorted(lines, key=lambda ln: -ln.power):
        if all(abs(ln.frequency - m.frequency) > 1.5 / length for m in merged):
            merged.append(ln)
    return merged


def _harmonic_power(power: np.ndarray, base_f: float, highest: int) -> np.ndarray:
    """``(harmonics, bands)``: the profile's own power (the difference's / its gain
    4·sin²(πf)) at harmonics 1…``highest`` of ``base_f`` above the spectral floor, for the
    bands that show the ruler (≥ 10 % of the strongest band's total)."""
    length = 2 * (power.shape[0] - 1)
    freqs = np.fft.rfftfreq(length)
    floor = line_scores(power[None])[0][0]  # sharpness = power / floor
    above = np.clip(power - power / np.maximum(floor, 1e-12), 0.0, None)
    gain = np.maximum(4 * np.sin(np.pi * freqs) ** 2, 1e-12)[:, None]
    own = above / gain
    k = np.arange(1, max(highest, 1) + 1)
    bins = np.clip(np.round(k * base_f * length).astype(int), 1, len(freqs) - 2)
    amps = np.maximum(np.maximum(own[bins - 1], own[bins]), own[bins + 1])
    totals = amps.sum(axis=0)
    return amps[:, totals >= 0.1 * totals.max()] if totals.max() > 0 else amps


def _in_phase_sum(d: np.ndarray, dominant: _Line) -> np.ndarray:
    """The differenced profiles of the bands where the dominant line is strong and in
    phase with its strongest band, summed (more ticks, less noise)."""
    n = d.shape[0]
    t = np.arange(n)
    carrier = np.exp(-2j * np.pi * dominant.frequency * t) * np.hanning(n)
    z = carrier @ (d - d.mean(axis=0))
    strength = np.abs(z)
    ref = z[dominant.band]
    use = (strength >= 0.3 * strength[dominant.band]) & (
        np.abs(np.angle(z * np.conj(ref))) < np.pi / 4
    )
    use[dominant.band] = True
    return d[:, use].sum(axis=1)
