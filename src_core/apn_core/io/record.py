"""The :class:`Radiograph` record and helpers the format readers share.

Format readers (``dicom``, ``tiff``, ``raster``) import this module, never the dispatcher
(:mod:`apn_core.io.radiograph`), so the package has no import cycle.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from apn_core.errors import ImageReadError, SpacingMissingError
from apn_core.io.text import safe_json, safe_text
from apn_core.spacing import Spacing, as_spacing


@dataclass(frozen=True)
class Radiograph:
    """A 2-D radiograph ready for analysis.

    pixels: ``(rows, cols)``, larger = more attenuation (bone bright), all finite. The
        stored integers when the values need no rescale (a 16-bit radiograph stays 2 bytes
        a pixel: no 80 MB float copy of a full-size image that is only ever reduced), else
        float32. Values are the file's (after DICOM rescale), not normalised: models
        normalise themselves. Convert before arithmetic that could leave the integer type.
    spacing: ``(row_mm, col_mm)`` millimetres per pixel, or ``None`` when unknown.
    spacing_source: human-readable origin of ``spacing`` (e.g. ``"DICOM PixelSpacing"``),
        or why there is none (``"none in file"``, ``"DICOM PixelSpacing is invalid (...)"``).
    photometric: the file's photometric interpretation as stored (before inversion).
    stored_dtype: dtype of the stored samples (e.g. ``uint16``).
    meta: format-specific extras (transfer syntax, modality, ...), JSON-serialisable;
        ``spacing_note`` says when a given spacing disagreed with the file's.
    """

    path: Path
    pixels: np.ndarray
    spacing: Spacing | None
    spacing_source: str
    photometric: str
    stored_dtype: str
    format: str
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape  # type: ignore[return-value]

    def require_spacing(self) -> Spacing:
        """The spacing, or :class:`SpacingMissingError` naming the file."""
        if self.spacing is None:
            raise SpacingMissingError(self.path)
        return self.spacing

    def with_spacing(self, spacing: object, source: str, **meta: str) -> Radiograph:
        """A copy whose spacing comes from ``source`` (e.g. a CLI option or a CSV column);
        ``meta`` entries (e.g. ``spacing_note``) are added to :attr:`meta`."""
        return replace(
            self,
            spacing=checked_spacing(spacing, self.path, source),
            spacing_source=source,
            meta={**self.meta, **meta},
        )

    def summary(self) -> dict:
        """What ``apn info`` prints: size, dtype, photometric, spacing and its source.

        Every string is printable (control characters escaped) and bounded in length:
        file names and DICOM tags are untrusted and this is printed to a terminal.
        """
        rows, cols = self.shape
        out = {
            "file": safe_text(self.path, limit=1000),
            "format": safe_text(self.format),
            "rows": rows,
            "cols": cols,
            "stored_dtype": safe_text(self.stored_dtype),
            "photometric": safe_text(self.photometric),
            "spacing_mm": list(self.spacing) if self.spacing else None,
            "spacing_source": safe_text(self.spacing_source, limit=400),
        }
        if self.spacing:
            out["size_mm"] = [round(rows * self.spacing[0], 1), round(cols * self.spacing[1], 1)]
        for key, value in safe_json(self.meta, limit=400).items():  # type: ignore[union-attr]
            out.setdefault(key, value)
        return out


def checked_spacing(value: object, path: str | Path, source: str = "") -> Spacing:
    """:func:`apn_core.spacing.as_spacing`, as an :class:`ImageReadError` naming the file."""
    try:
        return as_spacing(value)
    except ValueError as exc:
        where = f" ({source})" if source else ""
        raise ImageReadError(path, f"invalid pixel spacing{where}: {exc}") from None


def as_pixels(stored: np.ndarray) -> np.ndarray:
    """Decoded samples as :attr:`Radiograph.pixels`: integers as they are (no copy),
    anything else (float, bool) as float32."""
    return stored if stored.dtype.kind in "ui" else stored.astype(np.float32)


def to_grayscale(pixels: np.ndarray, path: Path, channel_axis: int = -1) -> np.ndarray:
    """Collapse a colour image whose channels are identical; reject true colour.

    Exported radiographs are often stored as RGB with R = G = B; a real colour picture is
    not a radiograph and silently converting it would hide the mistake.
    """
    channels = np.moveaxis(pixels, channel_axis, 0)
    if channels.shape[0] == 4:  # drop alpha
        channels = channels[:3]
    if channels.shape[0] == 2:  # gray + alpha
        return channels[0]
    if np.all(channels == channels[0]):
        return channels[0]
    raise ImageReadError(
        path,
        f"colour image ({channels.shape[0]} channels that differ); a radiograph is grayscale: "
        + grayscale_hint(path),
    )


def grayscale_hint(path: Path) -> str:
    """How to convert a colour file to grayscale (ImageMagick, or Python's Pillow), for a
    refusal's message. A TIFF stays a TIFF (its resolution, i.e. spacing, is kept)."""
    path = Path(path)
    suffix = ".tif" if path.suffix.lower() in (".tif", ".tiff") else ".png"
    out = f"{path.stem}-gray{suffix}"
    hint = (
        f"convert it first, e.g. magick {shlex.quote(path.name)} -colorspace Gray "
        f"{shlex.quote(out)} (ImageMagick), or in Python: "
        f"PIL.Image.open({path.name!r}).convert('L').save({out!r})"
    )
    if suffix == ".png" and path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        hint += (
            "; a PNG has no pixel spacing: give it with --spacing MM or spacing_mm in landmarks.csv"
        )
    elif suffix == ".png":
        hint += " (give the spacing with --spacing MM or spacing_mm in landmarks.csv)"
    return hint
