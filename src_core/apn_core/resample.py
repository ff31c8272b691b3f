"""Antialiased downsampling of a radiograph straight from its stored pixels.

The network sees a ~7300 × 2800 radiograph at ~512 × 190. The resize is a triangle
(antialiased bilinear) filter as wide as the scale — what
``torch.nn.functional.interpolate(..., mode="bilinear", antialias=True,
align_corners=False)`` computes, with the same weights. Run through ``interpolate`` it
first needs the whole image as float32 (20 M pixels: 80 MB and ~15 ms, most of it page
faults) and then ~40 ms of filtering on 2 cores, more than the file's decode.

Here the filter is applied as two passes of small matrix products, rows first: a pair of
output rows is a dense weight matrix times the slab of input rows under their triangles.
Each slab is converted to float32 on its own (a few hundred kB, in cache), so the stored
integers are read once and no full-size float copy exists; the second pass runs on the
~512 × 2800 result. The products are ``numpy.einsum`` (one thread, no BLAS or OpenMP
pool): ~20 ms for a 7759 × 2503 uint16 image, the same when another process keeps a core
busy (through torch's ``matmul`` it was 20 ms on one thread, 600 ms on two threads with
one core taken). The numbers are the reference's to float32 rounding (~1e-6 of the value
range; ``tests/core/test_resample.py``).

Block means on the integers before a small resize (cheaper still) were measured and
rejected, even with the reference's weights summed over each block: the pixels inside a
block vary against the triangle's weights. On 20 full-size synthetic radiographs, blocks
of ~scale/2 pixels moved the normalised input by up to 0.06 and the predicted landmarks
by up to 0.16 mm, blocks of ~scale/4 (3–4 pixels) by 0.015 and 0.11 mm, against 0.05 mm
allowed; this resize moves them by < 0.0001 mm
(``benchmarks/preprocessing_equivalence.py``).
"""

from __future__ import annotations

import numpy as np

GROUP = 2  # output rows per product: fewer calls vs. more zero weights (measured best)


def triangle_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The antialiased-bilinear weights of ``n_out`` outputs on ``n_in`` inputs:
    ``(first, last, weights)`` — output ``j`` is ``Σ_t weights[j, t] · x[first[j] + t]`` for
    ``first[j] + t < last[j]`` (later taps have weight 0).

    As PyTorch computes them (``align_corners=False``): ``scale = n_in / n_out``, a
    triangle of half-width ``max(scale, 1)`` input pixels centred on ``scale · (j + 0.5)``,
    over the pixels whose centres it covers (bounds truncated as PyTorch truncates),
    normalised to sum 1.
    """
    scale = n_in / n_out
    support = max(scale, 1.0)
    invscale = 1.0 / support
    centre = scale * (np.arange(n_out) + 0.5)
    first = np.maximum(np.trunc(centre - support + 0.5).astype(np.int64), 0)
    last = np.minimum(np.trunc(centre + support + 0.5).astype(np.int64), n_in)
    taps = np.arange(int((last - first).max()))
    w = np.clip(1.0 - np.abs((first[:, None] + taps - centre[:, None] + 0.5) * invscale), 0, None)
    w[first[:, None] + taps >= last[:, None]] = 0.0
    total = w.sum(axis=1, keepdims=True)
    return first, last, np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def resample(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``pixels`` (2-D; any integer, bool or float dtype; neither modified nor copied whole)
    → ``shape`` (rows, cols), float32, antialiased bilinear (see the module docstring).

    Pixel centres map as ``x_out = (x_in + 0.5) · n_out / n_in − 0.5`` on each axis, as in
    :class:`~apn_core.geometry.Letterbox`.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {pixels.shape}")
    rows = _resample_rows(pixels, shape[0])
    return np.ascontiguousarray(_resample_rows(rows.T, shape[1]).T)


def _resample_rows(x: np.ndarray, n_out: int) -> np.ndarray:
    """Resize axis 0 of the 2-D ``x`` to ``n_out`` → float32 ``(n_out, x.shape[1])``."""
    first, last, weights = triangle_weights(x.shape[0], n_out)
    out = np.empty((n_out, x.shape[1]), np.float32)
    starts = range(0, n_out, GROUP)
    height = max(last[min(j + GROUP, n_out) - 1] - first[j] for j in starts)
    slab = np.empty((height, x.shape[1]), np.float32)
    for j in starts:
        k = min(j + GROUP, n_out)
        a, b = first[j], last[k - 1]
        np.copyto(slab[: b - a], x[a:b], casting="unsafe")  # the only float copy: one slab
        w = np.zeros((k - j, b - a), np.float32)
        for r in range(k - j):  # each output row's taps, placed in the slab's frame
            lo = first[j + r] - a
            n = last[j + r] - first[j + r]
            w[r, lo : lo + n] = weights[j + r, :n]
        np.einsum("ij,jk->ik", w, slab[: b - a], out=out[j:k])
    return out
