"""Aspect-preserving letterbox between a radiograph and the network input.

Coordinates are (x, y) with (0, 0) at the centre of the top-left pixel, in both frames.
A pixel-centre-correct mapping keeps sub-pixel accuracy through the resize:
``x_in = (x + 0.5) · sx − 0.5 + ox`` and back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apn_core.config import GeometryConfig
from apn_core.io.contrast import intensity_window
from apn_core.resample import resample

FLOAT32_SAFE = 1e37  # beyond this, differences of float32 pixel values can overflow


@dataclass(frozen=True)
class Letterbox:
    """How one image of ``image_shape`` (rows, cols) sits in the ``input_shape`` frame.

    sx, sy: input pixels per image pixel along x (columns) and y (rows).
    ox, oy: offset of the resized image inside the input, in input pixels.
    """

    image_shape: tuple[int, int]
    input_shape: tuple[int, int]
    sx: float
    sy: float
    ox: int
    oy: int

    @classmethod
    def fit(cls, image_shape: tuple[int, int], geometry: GeometryConfig) -> Letterbox:
        rows, cols = image_shape
        s = min(geometry.height / rows, geometry.width / cols)
        nh = max(1, min(geometry.height, round(rows * s)))
        nw = max(1, min(geometry.width, round(cols * s)))
        return cls(
            image_shape=(rows, cols),
            input_shape=(geometry.height, geometry.width),
            sx=nw / cols,
            sy=nh / rows,
            ox=(geometry.width - nw) // 2,
            oy=(geometry.height - nh) // 2,
        )

    @property
    def resized_shape(self) -> tuple[int, int]:
        return round(self.image_shape[0] * self.sy), round(self.image_shape[1] * self.sx)

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Image (x, y) px → input (x, y) px; NaN stays NaN. Shape ``(..., 2)``."""
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack(
            [
                (xy[..., 0] + 0.5) * self.sx - 0.5 + self.ox,
                (xy[..., 1] + 0.5) * self.sy - 0.5 + self.oy,
            ],
            -1,
        )

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Input (x, y) px → image (x, y) px. Shape ``(..., 2)``."""
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack(
            [
                (xy[..., 0] - self.ox + 0.5) / self.sx - 0.5,
                (xy[..., 1] - self.oy + 0.5) / self.sy - 0.5,
            ],
            -1,
        )

    def input_spacing(self, spacing: tuple[float, float]) -> tuple[float, float]:
        """mm per input pixel (row, col) for an image of ``spacing`` mm/px."""
        return spacing[0] / self.sy, spacing[1] / self.sx

    def resize(self, pixels: np.ndarray) -> np.ndarray:
        """Antialiased bilinear resize of ``pixels`` (2-D, any real dtype) to
        :attr:`resized_shape`, float32 — see :func:`resample`."""
        return resample(pixels, self.resized_shape)

    def pad(self, resized: np.ndarray) -> np.ndarray:
        """Place a :meth:`resize` output in the zero-filled input frame."""
        nh, nw = self.resized_shape
        out = np.zeros(self.input_shape, np.float32)
        out[self.oy : self.oy + nh, self.ox : self.ox + nw] = resized
        return out


def network_input(pixels: np.ndarray, geometry: GeometryConfig) -> tuple[np.ndarray, Letterbox]:
    """A bone-bright radiograph → the normalised, letterboxed network input and its box.

    Resize first, normalise second: the intensity percentiles are then taken at the
    resolution the network sees, so they do not depend on the file's pixel size (at 0.143
    mm/px quantum noise widens full-resolution percentiles and the downsampled image came
    out darker and flatter than the same anatomy stored at 0.5 mm/px), and the full-size
    image is touched once, by the resize, in its stored type (``pixels`` may be integers:
    :func:`~apn_core.resample.resample` converts slab by slab, never the whole image).
    Training (its cache) and inference both call this.
    A blank image raises :class:`~apn_core.errors.BlankImageError` (see
    :func:`normalise_intensity`).
    """
    box = Letterbox.fit(np.shape(pixels), geometry)
    return box.pad(normalise_intensity(box.resize(pixels))), box


def normalise_intensity(pixels: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Map the ``low``–``high`` percentile range to 0–1 (clipped): the files' 12–16 bit
    values and windowing vary, the network sees a comparable range.

    Percentiles come from a subsample; the mapping runs in place on one float32 copy (a
    full-size radiograph is 20 M pixels: every temporary costs ~80 MB and ~10 ms).

    Values beyond ±:data:`FLOAT32_SAFE` (a float32 TIFF of finite ±3e38) are mapped in
    float64: in float32 ``hi − lo`` overflows to infinity and every pixel became NaN.

    Raises :class:`~apn_core.errors.BlankImageError` for a blank (constant, e.g. all-zero)
    image or one without contrast: dividing by its ~0 range would turn rounding noise into
    an input the network answers with confident garbage. Callers report it per file
    (``BlankImageError(exc.problem, path)``).
    """
    lo, hi = intensity_window(pixels, low, high)
    if max(abs(lo), abs(hi)) > FLOAT32_SAFE:  # finite ±3e38 pixels: hi − lo overflows
        out = ((np.asarray(pixels, np.float64) - lo) / (hi - lo)).astype(np.float32)
        return np.clip(out, 0.0, 1.0, out=out)
    out = np.subtract(pixels, np.float32(lo), dtype=np.float32)
    np.divide(out, np.float32(hi - lo), out=out)
    return np.clip(out, 0.0, 1.0, out=out)
