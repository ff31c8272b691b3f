"""What a ruler's periods are in millimetres: its repeating unit and its finest tick level.

A ruler's profile along its length repeats every *base* period (1 cm for plain cm ticks;
2 cm where numbers stand at every second cm; 5 cm where every fifth tick is long), so its
lines lie at whole harmonics of the base frequency (:func:`harmonic_base`). Ticks finer
than two pixels (1 mm ticks at ≥ 0.5 mm/px), and the harmonics of coarser ones, lie above
the Nyquist frequency; an image sampled without a low-pass folds them back to 1 − f, where
they are no harmonic of the base (the OAI films at 1.5 mm/px show their 5 mm ticks'
second harmonic at 2.5 px). The sieve explains such lines as folded, but reads the base
from the lines seen directly — the coarse levels, which do not fold — and refuses a base
that only folding, a single line, or chance explains.

Within the base, ticks of the finest level fall every base / ``n``: in a band across those
ticks the profile repeats every base / ``n`` too, i.e. its harmonics that ``n`` divides
carry its power (:func:`finest_level`). A standard ruler has ticks of 1, 5 or 10 mm
(:data:`TICK_MM`) and repeats every 1, 5, 10, 20, 50 or 100 mm (:data:`BASE_MM`), so ``n``
narrows what the base can be: ``n = 4`` (5 mm ticks, numbers every 2 cm: the OAI ruler)
allows 20 mm only, ``n = 5`` 5 or 50 mm, ``n = 2`` 10 or 20 mm. Of what remains, readings
that make the film's long side impossible for a leg radiograph (:data:`FILM_LENGTH_MM`)
are dropped; between two left (they differ 2× or more), a spacing the file carries (or
the user gave) decides, else the film nearer a typical long-leg film
(:data:`TYPICAL_FILM_MM`) — and the reading says so (:func:`choose_base`).
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
ALIAS_MAX = 1.5  # cycles/px: finer detail is too blurred to fold back visibly
SUBHARMONIC_GAIN = 0.1  # a smaller base must explain this much more to be preferred
DIRECT_SHARE = 0.5  # of the lines' power a base must explain without folding
LEVEL_SHARE = 0.6  # share of a band's harmonic power on multiples of n for a level n
LEVEL_STRENGTH = 0.25  # of the most power any band holds on multiples of n, for a level n

BY_LENGTH = "the film's length chose between readings"
BY_FILE = "the file's (or the given) spacing chose between readings"
ONLY = "the one reading that gives a leg film's length"


def harmonic_base(
    frequencies: np.ndarray, weights: np.ndarray, lowest: float, length: int
) -> float | None:
    """The ruler's repeating unit (cycles/px): the largest frequency of which lines holding
    ≥ 80 % of the ``weights`` are whole harmonics, seen directly or folded back; or None.

    ``weights``: the lines' power per harmonic gain 2·|sin(πf)| — between the profile's
    own power (where junk edges beside the ruler dominate the coarse end) and its
    difference's (which lifts harmonic k by ~k², so that fine, folded lines outvote the
    coarse levels). Candidates are each line's frequency divided by a low ratio
    (:data:`SIEVE`), not below ``lowest``, each refined to the lines it explains
    (:func:`_refit`). A base must

    - show itself: its own line, or its 2nd harmonic with its 3rd or 5th (a unit whose
      own line is lost to the line search);
    - rest on ≥ 2 of its harmonics seen directly (one line alone agrees with nothing),
      holding ≥ :data:`DIRECT_SHARE` of the weight (what needs folding is a minority);

    and a smaller base than the first that explains 80 % is taken only where it shows its
    own line and explains :data:`SUBHARMONIC_GAIN` more, in all or seen directly: every
    line of a unit is a harmonic of half of it, and half of it explains a few more by
    chance; while a larger base can take the fine ticks' folded line for its own (1 mm
    ticks at 0.87 mm/px fold onto the 3rd harmonic of the 2 cm unit) and explain the
    unit's harmonics as folded ones.
    A line is on a harmonic as :func:`on_harmonics` says."""
    if len(frequencies) == 0:
        return None
    total = float(weights.sum())
    chosen = None  # (base, share of the weight it explains, share it explains directly)
    for start in sorted({float(f) / q for f in frequencies for q in SIEVE}, reverse=True):
        if start < lowest:
            break
        base = _refit(frequencies, weights, start, length)
        direct = on_harmonics(frequencies, base, length, aliased=False)
        seen = set(np.round(frequencies[direct] / base).astype(int))
        if not (1 in seen or (2 in seen and seen & {3, 5})):
            continue  # the unit shows neither its own line nor its 2nd with an odd one
        plain = float(weights[direct].sum()) / total
        if len(seen) < 2 or plain < DIRECT_SHARE:
            continue  # one line alone (nothing agrees with it), or mostly folded: chance
        share = float(weights[on_harmonics(frequencies, base, length)].sum()) / total
        if chosen is None:
            if share >= 0.8:
                chosen = (base, share, plain)
        elif 1 in seen and (
            share >= chosen[1] + SUBHARMONIC_GAIN or plain >= chosen[2] + SUBHARMONIC_GAIN
        ):
            chosen = (base, share, plain)  # a coarser unit, seen, explains clearly more
    return None if chosen is None else chosen[0]


def _refit(frequencies: np.ndarray, weights: np.ndarray, base: float, length: int) -> float:
    """``base`` refined by weighted least squares (f = k·base) over the lines on its
    harmonics: one line's frequency is a fraction of a bin off, the harmonic k·base then
    k times that, so the lines the base explains would depend on which one it came from."""
    for _ in range(2):
        on = on_harmonics(frequencies, base, length, aliased=False)
        k = np.round(frequencies[on] / base)
        w = weights[on]
        if not on.any() or float(w @ (k * k)) <= 0:
            return base
        base = float((w * k) @ frequencies[on]) / float(w @ (k * k))
    return base


def on_harmonics(
    frequencies: np.ndarray, base: float, length: int, aliased: bool = True
) -> np.ndarray:
    """Which ``frequencies`` (cycles/px, < 0.5) lie on a harmonic k·``base`` (k ≥ 1), or
    (``aliased``) on where one between 0.5 and :data:`ALIAS_MAX` cycles/px folds to
    (1 − k·base or k·base − 1): a ruler's ticks finer than two pixels, sampled without a
    low-pass, fold back there. Within 0.6 % or half a bin (of a ``length``-sample
    spectrum; a coarse level's line is that far off on real films), but never more than
    base / 20 — else a small base explains any line by chance."""
    on = np.zeros(len(frequencies), bool)
    folds = (frequencies, 1.0 - frequencies, 1.0 + frequencies) if aliased else (frequencies,)
    for true in folds:
        k = np.round(true / base)
        tolerance = np.minimum(np.maximum(0.006 * true, 0.5 / length), base / 20)
        on |= (k >= 1) & (np.abs(true - k * base) <= tolerance) & (true <= ALIAS_MAX)
    return on


def finest_level(amplitudes: np.ndarray, highest: int) -> int:
    """The largest ``n`` of :data:`LEVELS` (≤ ``highest``) for which some band holds
    :data:`LEVEL_SHARE` of its harmonic power on multiples of ``n``, and at least
    :data:`LEVEL_STRENGTH` of the most any band holds there; 1 when none does.

    The finest ticks are seen where they are strong: a weak band at the ruler's edge
    (past the ticks' ends, where JPEG ringing or a sharpening halo leaves mostly the 2nd
    harmonic of 5 px ticks) would otherwise make a level of its own, and whether the
    strip takes in that band depends on a few px of where the search put its box.

    ``amplitudes``: ``(harmonics, bands)``, the profile's power at harmonics 1, 2, … of the
    base above the spectral floor (≥ 0), for the bands that show the ruler."""
    k = np.arange(1, amplitudes.shape[0] + 1)
    total = amplitudes.sum(axis=0)
    best = 1
    for n in LEVELS:
        if n > highest:
            break
        on = amplitudes[k % n == 0].sum(axis=0)
        share = on / np.maximum(total, 1e-30)
        if np.any((share >= LEVEL_SHARE) & (on >= LEVEL_STRENGTH * on.max())):
            best = n
    return best


def choose_base(
    base_f: float,
    n: int,
    long_side_px: float,
    expected: tuple[float, float] | None,
    length_decides: bool = True,
) -> tuple[float, str] | None:
    """(base mm, how it was decided) for the repeating unit at ``base_f`` cycles/px whose
    finest ticks fall ``n`` to a unit, or None when no reading gives a possible film.

    The unit is one of :data:`BASE_MM` made of ``n`` ticks of a size in :data:`TICK_MM`
    (any of them where ``n`` is 1 — the finest lines seen may be the numbering's — or no
    unit is); ``expected`` is a (low, high) mm/px range from the file's own or a given
    spacing. Where two readings give a possible film and ``expected`` does not decide,
    the film nearer :data:`TYPICAL_FILM_MM` is taken (``length_decides``) — a prior for
    adults' films: a child's film 0.5–0.7 m long reads 2× — or none (``False``)."""
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
        if how == BY_LENGTH and not length_decides:
            return None
    return options[0][1], how


def describe(tick_mm: float, base_mm: float, how: str) -> str:
    """``5 mm ticks, repeating every 2 cm (how)``."""
    text = f"{_mm(tick_mm)} ticks"
    if base_mm > tick_mm:
        text += f", repeating every {_mm(base_mm)}"
    return f"{text}; {how}"


def _mm(value: float) -> str:
    return f"{value / 10:g} cm" if value >= 10 else f"{value:g} mm"
