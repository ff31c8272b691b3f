"""Named, independent random streams of one synthetic case.

Every randomised axis draws from its own stream, keyed by ``(seed, index, axis name)``.
So case *i* never depends on how many cases are rendered, and switching one axis on or
off (a family, an override, a test) leaves every other axis of that case unchanged.
"""

from __future__ import annotations

import zlib

import numpy as np


class Draws:
    """``draws("anatomy.flexion")`` → a fresh generator for that axis of case (seed, index)."""

    def __init__(self, seed: int, index: int) -> None:
        if seed < 0 or index < 0:
            raise ValueError(f"seed and index must be 0 or more, got {seed}, {index}")
        self.seed, self.index = int(seed), int(index)

    def __call__(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.index, zlib.crc32(name.encode())])


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """One draw within ``bounds`` (equal bounds give that value)."""
    lo, hi = bounds
    return float(lo if hi <= lo else rng.uniform(lo, hi))


def chance(rng: np.random.Generator, p: float) -> bool:
    """True with probability ``p`` (always consumes one draw, so streams stay aligned)."""
    return bool(rng.random() < p)


def pick(rng: np.random.Generator, options: tuple):
    """One of ``options``, uniformly (always consumes one draw)."""
    return options[int(rng.integers(0, len(options)))]
