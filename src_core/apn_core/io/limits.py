"""Checks made before and after decoding, so a hostile or damaged file costs one clear
error, never the machine.

- **Declared size** (before decoding): a compressed file of a few MB can declare an image
  of 100 000 × 100 000 pixels; decoding it would take tens of GB. Every reader reads the
  size from the header first and refuses images larger than :class:`ImageLimits`:
  at most :data:`MAX_IMAGE_SIDE` pixels a side and :data:`MAX_IMAGE_PIXELS` pixel values
  (rows × columns × samples × frames; the default, 2**29, is 2 GiB as the float32 working
  copy). Override with the environment variables ``APN_MAX_IMAGE_SIDE`` and
  ``APN_MAX_IMAGE_PIXELS``, or ``read_radiograph(..., limits=ImageLimits(...))``.
- **Truncation** (before decoding): pixel data declared to extend past the end of the file.
- **Non-finite pixels** (after decoding): NaN or ±inf in a float image, or from a rescale,
  are refused with their count — a NaN pixel spreads through the network and every
  landmark came out "absent". Finite values beyond float32 (float64 pixels near 1e303, a
  rescale to 1e300) are refused as such.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apn_core.errors import ApnError, ImageReadError, ImageTooLargeError, NonFinitePixelsError

MAX_IMAGE_SIDE = 30_000
MAX_IMAGE_PIXELS = 2**29  # 536 870 912 pixel values = 2 GiB as float32
ENV_MAX_SIDE = "APN_MAX_IMAGE_SIDE"
ENV_MAX_PIXELS = "APN_MAX_IMAGE_PIXELS"
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class ImageLimits:
    """The largest image a reader will decode.

    max_side: pixels along either axis.
    max_pixels: pixel values in all (rows × columns × samples per pixel × frames).
    """

    max_side: int = MAX_IMAGE_SIDE
    max_pixels: int = MAX_IMAGE_PIXELS

    @classmethod
    def from_env(cls) -> ImageLimits:
        """The defaults, overridden by ``APN_MAX_IMAGE_SIDE`` / ``APN_MAX_IMAGE_PIXELS``."""
        return cls(
            max_side=_env_int(ENV_MAX_SIDE, MAX_IMAGE_SIDE),
            max_pixels=_env_int(ENV_MAX_PIXELS, MAX_IMAGE_PIXELS),
        )

    def describe(self) -> str:
        return (
            f"the limit is {self.max_side:,} px a side and {self.max_pixels:,} pixel values "
            f"(set {ENV_MAX_SIDE} / {ENV_MAX_PIXELS} to change it)"
        )

    def check(self, path: Path, rows: int, cols: int, samples: int = 1, frames: int = 1) -> None:
        """Refuse a declared size beyond the limits, before anything is decoded."""
        dims = f"{rows} × {cols} pixels"
        if samples != 1 or frames != 1:
            dims += f" × {samples} sample(s) × {frames} frame(s)"
        if min(rows, cols, samples, frames) < 1:
            raise ImageReadError(path, f"the file declares an empty image ({dims})")
        total = rows * cols * samples * frames
        if max(rows, cols) > self.max_side or total > self.max_pixels:
            raise ImageTooLargeError(
                path,
                f"image too large: the file declares {dims} ({total:,} pixel values); "
                f"{self.describe()}",
            )


def check_extent(path: Path, end: int, what: str = "pixel data") -> None:
    """Refuse a file whose ``what`` is declared to end at byte ``end``, past the file's end."""
    size = path.stat().st_size
    if end > size:
        raise ImageReadError(
            path,
            f"truncated file: its {what} is declared to end at byte {end:,} but the file "
            f"has {size:,} bytes",
        )


def require_finite(path: Path, pixels: np.ndarray) -> None:
    """Refuse an image with NaN or infinite pixel values, saying how many."""
    if np.isfinite(pixels).all():
        return
    bad = pixels.size - int(np.count_nonzero(np.isfinite(pixels)))
    n_nan = int(np.count_nonzero(np.isnan(pixels)))
    raise NonFinitePixelsError(
        path,
        f"{bad:,} of {pixels.size:,} pixel values are not finite ({n_nan:,} NaN, "
        f"{bad - n_nan:,} infinite); a radiograph's pixels must be numbers — "
        "re-export the image or mask those pixels with a real value",
    )


def require_float32_range(
    path: Path, stored: np.ndarray, slope: float = 1.0, intercept: float = 0.0
) -> None:
    """Refuse values that become infinite in float32, apn's working type: float64 pixels
    near 1e303, or a rescale (``slope``, ``intercept``) that takes the stored values past
    ±3.4e38. Said as such — they are finite in the file, not "not finite"."""
    if stored.size == 0 or stored.dtype.kind not in "uif":
        return
    if stored.dtype.kind in "ui" and (slope, intercept) == (1, 0):
        return  # int64 at most: 9.2e18, far inside float32
    if stored.dtype.kind == "f" and stored.dtype.itemsize <= 4 and (slope, intercept) == (1, 0):
        return  # float32 already: nothing to overflow
    if stored.dtype.kind == "f":
        require_finite(path, stored)
    with np.errstate(over="ignore", invalid="ignore"):
        ends = [float(stored.min()) * slope + intercept, float(stored.max()) * slope + intercept]
    reach = max(abs(v) for v in ends)
    if reach > FLOAT32_MAX or not np.isfinite(reach):
        how = "" if (slope, intercept) == (1, 0) else " after RescaleSlope/RescaleIntercept"
        raise ImageReadError(
            path,
            f"pixel values reach {reach:.3g}{how}, beyond ±{FLOAT32_MAX:.3g} (float32, the type "
            "apn computes in); a radiograph's values are far smaller — re-export the image",
        )


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise ApnError(f"environment variable {name}={text!r} is not a whole number ≥ 1")
    return int(text)
