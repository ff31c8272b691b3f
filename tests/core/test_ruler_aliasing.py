"""A ruler whose fine ticks are finer than the pixels (apn_core.calibration_object.ticks):
the ticks fold back (alias) to lines that are no harmonic of the ruler, and must never
give a wrong spacing — the reading rests on the coarse levels, or there is none.

The line sets below are measured on real OAI films (``measure_ruler``'s lines and their
weights); the 2-D films render an OAI-like ruler as a scanner does without a low-pass: each
pixel averages a spot much smaller than itself."""

from __future__ import annotations

import numpy as np
import pytest

from apn_core.calibration_object import estimate_spacing
from apn_core.calibration_object.ticks import harmonic_base, on_harmonics
from tests.core.test_calibration_object import expose, film

# ---------------------------------------------------------------- the sieve, 1-D

# OAI 36-month film 02335801 (1.50 mm/px): the 2 cm unit at 13.3 px (0.0752 cycles/px),
# its 5 mm ticks at 3.33 px, and their 2nd harmonic (0.601, above Nyquist) folded to 0.400
OAI_150 = (
    [0.0745, 0.0998, 0.1494, 0.2244, 0.2413, 0.3006, 0.3731, 0.4001, 0.4465, 0.4502],
    [0.31, 0.038, 0.308, 0.216, 0.023, 1.0, 0.079, 0.301, 0.058, 0.029],
)
LENGTH = 282  # samples of the spectrum those lines come from


def weights(frequencies, own_power):
    """The sieve's weights from the lines' power in the profile: × 2|sin(πf)|."""
    f = np.asarray(frequencies)
    return np.asarray(own_power) * 2 * np.abs(np.sin(np.pi * f))


def test_a_folded_tick_line_is_explained_by_the_unit_it_comes_from():
    f = np.array([0.4001])
    assert on_harmonics(f, 0.0752, LENGTH)  # 1 − 8 × 0.0752 = 0.398
    assert not on_harmonics(f, 0.0752, LENGTH, aliased=False)


def test_the_unit_is_read_from_the_coarse_levels_not_the_folded_line():
    """The old sieve took 0.050 (1.0 mm/px read as a 2 cm unit: 24 % off)."""
    f, own = OAI_150
    base = harmonic_base(np.array(f), weights(f, own), 0.002, LENGTH)
    assert base == pytest.approx(0.0752, rel=0.01)


def test_a_smaller_unit_is_taken_only_where_its_own_line_is_seen():
    """An OAI film upsampled 1.3× (1.015 mm/px): its unit at 0.0509; the lines it folded
    before the upsampling (0.3618, 0.4342) happen to sit on odd harmonics of half the
    unit, which has no line of its own — it would read 0.51 mm/px."""
    f = [0.0508, 0.102, 0.1525, 0.2038, 0.2544, 0.3618, 0.4069, 0.4342]
    w = [0.094, 0.399, 0.315, 1.0, 0.295, 0.212, 0.207, 0.265]
    base = harmonic_base(np.array(f), np.array(w), 0.002, 440)
    assert base == pytest.approx(0.0509, rel=0.01)


def test_one_line_alone_reads_nothing():
    assert harmonic_base(np.array([0.2645]), np.array([1.0]), 0.002, LENGTH) is None


def test_lines_that_only_folding_explains_read_nothing():
    """Mostly folded: a 0.05 unit 'explains' 0.35 and 0.45 as 1 − 13 and 1 − 11 of it."""
    f = np.array([0.1, 0.35, 0.45])
    assert harmonic_base(f, np.array([0.1, 1.0, 1.0]), 0.002, LENGTH) is None


def test_a_small_unit_does_not_explain_any_line_by_chance():
    """The tolerance never exceeds a 20th of the unit: 0.0177 (5 cm at 0.88 mm/px) does
    not take 0.0697 (3.94 of it) as its 4th harmonic."""
    assert not on_harmonics(np.array([0.0697]), 0.0177, 210, aliased=False)


# ---------------------------------------------------------------- OAI-like films, 2-D

TICKS_MM = ((1.0, 3.0, 0.25), (5.0, 5.0, 0.35), (10.0, 8.0, 0.5))  # period, length, width
DIGITS = {
    0: "abcdef",
    1: "bc",
    2: "abged",
    3: "abgcd",
    4: "fgbc",
    5: "afgcd",
    6: "afgedc",
    7: "abc",
    8: "abcdefg",
    9: "abcdfg",
}  # fmt: skip  (seven-segment strokes)


def covered(y0, y1, start: float, period: float, width: float) -> np.ndarray:
    """Length of each [y0, y1] covered by bars [start + k·period, … + width] (mm)."""

    def cumulative(t):
        t = t - start
        return np.floor(t / period) * width + np.clip(np.mod(t, period), 0, width)

    return cumulative(y1) - cumulative(y0)


def oai_like_ruler(rows: int, cols: int, spacing: float, phase: float, spot: float = 0.5):
    """μ·t ``(rows, cols)`` of a 20 mm wide ruler ending at the last column: 1 mm, 5 mm
    and 1 cm ticks and the cm count every 2 cm (two seven-segment digits, as on the OAI
    films); each pixel averages a ``spot`` mm long window along the ruler (a scanner
    without a low-pass: ticks finer than two pixels alias)."""
    y = phase + np.arange(rows) * spacing
    x = 20.0 - (cols - np.arange(cols)) * spacing  # mm from the ruler's left edge
    y0, y1 = y - spot / 2, y + spot / 2
    mu = np.zeros((rows, cols), np.float32)
    for period, length, width in TICKS_MM:
        ticks = 0.8 * covered(y0, y1, -width / 2, period, width) / spot
        mu[:, x >= 20.0 - length] = np.maximum(mu[:, x >= 20.0 - length], ticks[:, None])
    for start in np.arange(0.0, y[-1] + 20.0, 20.0):
        label = round(start / 10) % 100
        for place, digit in enumerate((label // 10, label % 10)):
            left = 5.0 + 3.4 * place  # digits 2.6 mm wide, 4 mm tall
            for stroke in DIGITS[digit]:
                if stroke in "agd":  # bars across, 0.7 mm thick
                    top = {"a": 0.0, "g": 1.75, "d": 3.5}[stroke]
                    along = covered(y0, y1, start - 2.0 + top, 1e9, 0.7)
                    cols_in = (x >= left) & (x <= left + 2.6)
                else:  # bars along, half the digit's height, 0.5 mm wide
                    top = 0.0 if stroke in "bf" else 1.75
                    along = covered(y0, y1, start - 2.0 + top, 1e9, 2.25)
                    side = left + (2.1 if stroke in "bc" else 0.0)
                    cols_in = (x >= side) & (x <= side + 0.5)
                mu[:, cols_in] += 0.7 * (along / spot)[:, None]
    return mu


def oai_like_film(spacing: float, phase: float, seed: int = 0) -> np.ndarray:
    """A 1.2 m leg film at ``spacing`` mm/px, 128 px wide (an OAI half-film), the ruler
    along its right edge."""
    rows = round(1200.0 / spacing)
    mu, _ = film(rows=rows, cols=128, spacing=spacing)
    mu[:, -16:] += oai_like_ruler(rows, 16, spacing, phase)
    return expose(mu, seed=seed)


@pytest.mark.parametrize("spacing", [1.3216, 1.505])  # the two OAI scans' spacings
@pytest.mark.parametrize("phase", [0.3, 2.9])
def test_an_aliased_oai_like_ruler_reads_its_spacing(spacing, phase):
    """At 1.505 mm/px the old reading was 0.75 mm/px (its folded lines taken for the
    unit); at 1.32 nothing."""
    estimate = estimate_spacing(oai_like_film(spacing, phase), "auto")
    assert estimate is not None
    assert estimate.spacing_mm == pytest.approx(spacing, rel=0.01)


@pytest.mark.parametrize("spacing", [0.62, 0.87, 1.06, 1.41, 1.58])
def test_an_aliased_ruler_reads_its_spacing_or_nothing(spacing):
    """Wherever its ticks fold to: the spacing within 1 %, or none. (Not everywhere: near
    spacings where the 1 mm ticks fold onto a line a coarse level could be, this sharp
    ruler is still misread — ``spacing_object.py --crafted`` counts them; README, Limits.)"""
    estimate = estimate_spacing(oai_like_film(spacing, 1.1, seed=3), "auto")
    assert estimate is None or estimate.spacing_mm == pytest.approx(spacing, rel=0.01)
