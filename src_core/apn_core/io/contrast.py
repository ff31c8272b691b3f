"""The intensity window a model normalises with, and the blank-image check it implies.

A blank image (constant, e.g. all zero) or one whose 0.5–99.5 percentile range is a single
value has nothing to find; dividing by its ~0 range would amplify rounding noise into an
input the network answers with confident-looking landmarks. :func:`intensity_window`
refuses such images with :class:`~apn_core.errors.BlankImageError`, the same test for
``apn check`` (on the file) and for inference/training (on the network input).
"""

from __future__ import annotations

import numpy as np

from apn_core.errors import BlankImageError

LOW_PERCENTILE, HIGH_PERCENTILE = 0.5, 99.5
RELATIVE_EPS = 1e-6  # a range below this fraction of the values' magnitude is rounding noise


def intensity_window(
    pixels: np.ndarray, low: float = LOW_PERCENTILE, high: float = HIGH_PERCENTILE
) -> tuple[float, float]:
    """The ``low``/``high`` percentiles of a 2-D image (from a subsample, ≤ 512×256 values).

    Raises :class:`BlankImageError` when the window is empty (or not finite): the image is
    constant, or all but a few pixels share one value.
    """
    sample = pixels[:: max(1, pixels.shape[0] // 512), :: max(1, pixels.shape[1] // 256)]
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi = (float(v) for v in np.percentile(sample, [low, high]))
    if not (np.isfinite(lo) and np.isfinite(hi)) and sample.dtype.kind == "f":
        # finite float32 values near ±3.4e38: the interpolation overflowed in float32
        lo, hi = (float(v) for v in np.percentile(sample.astype(np.float64), [low, high]))
    if np.isfinite(lo) and np.isfinite(hi) and hi - lo > RELATIVE_EPS * max(abs(lo), abs(hi)):
        return lo, hi
    vmin, vmax = float(np.min(pixels)), float(np.max(pixels))
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        raise BlankImageError("the image has NaN or infinite pixel values")
    if vmin == vmax:
        raise BlankImageError(f"the image is blank (constant pixel value {vmin:g})")
    raise BlankImageError(
        f"the image has no contrast: its {low:g}–{high:g} percentile range is the single "
        f"value {lo:g} (values span {vmin:g}–{vmax:g} in only a few pixels)"
    )
