"""What a ruler's periods are in millimetres: its repeating unit and its finest tick level.

A ruler's profile along its length repeats every *base* period (1 cm for plain cm ticks;
2 cm where numbers stand at every second cm; 5 cm where every fifth tick is long), so its
lines lie at whole harmonics of the base frequency (:func:`harmonic_base`). Within the base,
ticks of the finest level fall every base / ``n``: in a band across those ticks the profile
repeats every base / ``n`` too, i.e. its harmonics that ``n`` divides carry its power
(:func:`finest_level`). A standard ruler has ticks of 1, 5 or 10 mm (:data:`TICK_MM`) and
repeats every 1, 5, 10, 20, 50 or 100 mm (:data:`BASE_MM`), so ``n`` narrows what the base
can be: ``n = 4`` (5 mm ticks, numbers every 2 cm: the OAI ruler) allows 20 mm only,
``n = 5`` 5 or 50 mm, ``n = 2`` 10 or 20 mm. Of what remains, readings that make the
film's long side impossible for a leg radiograph (:data:`FILM_LENGTH_MM`) are dropped;
between two left (they differ 2× or more), a spacing the file carries decides, else the
film nearer a typical long-leg film (:data:`TYPICAL_FILM_MM`) — and the reading says so
(:func:`choose_base`).
"""

from __future__ import annotations

import math

import numpy as np

TICK_MM = (1.0, 5.0, 10.0)  # the tick levels a ruler's finest visible ticks can be
BASE_MM = (1.0, 5.0, 10.0, 20.0, 50.0, 100.0)  # its repeating units (ticks, numbering)
LEVELS = (2, 4, 5, 10, 20, 50, 100)  # finest ticks per repeating unit that a ruler has
FILM_LENGTH_MM = (400.0, 2000.0)  # long side of a leg radiograph: impossible outside
TYPICAL_FILM_MM = 1000.0  # a standing long-leg film (hip to ankle with margins), at the bone
SIEVE = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20)  # a tick level times a low harmonic index
LEVEL_SHARE = 0.6  # share of a band's harmonic power on multiples of n for a level n

BY_LENGTH = "the film's length chose between readings"
BY_FILE = "the file's spacing chose between readings"
ONLY = "the one reading that gives a leg film's length"


def harmonic_base(
    frequencies: np.ndarray, weights: np.ndarray, lowest: float, length: int
) -> float | None:
    """The largest frequency of which lines holding ≥ 80 % of the ``weights`` are whole
    harmonics (a harmonic sieve), or None.

    ``weights`` are the lines' power in the differenced profile, which lifts a harmonic
    k by ~k²; the sieve starts from the line strongest in the profile itself (power /
    4·sin²(πf)) — a tick train's fundamental, not one of its harmonics. Candidates are
    that line's frequency divided by 1 or a ruler's ratio of
    levels (:data:`LEVELS`: a ruler repeats every 2, 4, 5, 10 or 20 of its ticks, never
    every 3 or 7), not below ``lowest``; a line is on a harmonic when within 0.6 % or
    0.35 bins (of a ``length``-sample spectrum) of it."""
    if len(frequencies) == 0:
        return None
    total = float(weights.sum())
    tolerance = np.maximum(0.006 * frequencies, 0.35 / length)
    strongest = float(frequencies[int(np.argmax(weights))])
    for q in SIEVE:
        base = strongest / q
        if base < lowest:
            break
        k = np.round(frequencies / base)
        on = (k >= 1) & (np.abs(frequencies - k * base) <= tolerance)
        if float(weights[on].sum()) >= 0.8 * total:
            return base
    return None


def finest_level(amplitudes: np.ndarray, highest: int) -> int:
    """The largest ``n`` of :data:`LEVELS` (≤ ``highest``) for which some band holds
    :data:`LEVEL_SHARE` of its harmonic power on multiples of ``n``; 1 when none does.

    ``amplitudes``: ``(harmonics, bands)``, the profile's power at harmonics 1, 2, … of the
    base above the spectral floor (≥ 0), for the bands that show the ruler."""
    k = np.arange(1, amplitudes.shape[0] + 1)
    total = amplitudes.sum(axis=0)
    best = 1
    for n in LEVELS:
        if n > highest:
            break
        share = amplitudes[k % n == 0].sum(axis=0) / np.maximum(total, 1e-30)
        if np.any(share >= LEVEL_SHARE):
            best = n
    return best


def choose_base(
    base_f: float, n: int, long_side_px: float, expected: tuple[float, float] | None
) -> tuple[float, str] | None:
    """(base mm, how it was decided) for the repeating unit at ``base_f`` cycles/px whose
    finest ticks fall ``n`` to a unit, or None when no reading gives a possible film.

    The unit is one of :data:`BASE_MM` made of ``n`` ticks of a size in :data:`TICK_MM`
    (any of them where ``n`` is 1 — the finest lines seen may be the numbering's — or no
    unit is); ``expected`` is a (low, high) mm/px range from the
    file's own spacing."""
    bases = [b for b in BASE_MM if any(abs(b - n * t) < 1e-9 for t in TICK_MM)]
    if n == 1 or not bases:  # no finer level seen: the unit may be ticks or numbering
        bases = list(BASE_MM)
    options = []
    for base in bases:
        film = long_side_px * base * base_f
        if FILM_LENGTH_MM[0] <= film <= FILM_LENGTH_MM[1]:
            options.append((abs(math.log(film / TYPICAL_FILM_MM)), base))
    if not options:
        return None
    options.sort()
    how = ONLY
    if len(options) > 1:
        how = BY_LENGTH
        if expected is not None:
            fits = [o for o in options if expected[0] <= o[1] * base_f <= expected[1]]
            if len(fits) == 1:
                options, how = fits, BY_FILE
    return options[0][1], how


def describe(tick_mm: float, base_mm: float, how: str) -> str:
    """``5 mm ticks, repeating every 2 cm (how)``."""
    text = f"{_mm(tick_mm)} ticks"
    if base_mm > tick_mm:
        text += f", repeating every {_mm(base_mm)}"
    return f"{text}; {how}"


def _mm(value: float) -> str:
    return f"{value / 10:g} cm" if value >= 10 else f"{value:g} mm"
