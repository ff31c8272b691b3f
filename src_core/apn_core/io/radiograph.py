"""The :class:`Radiograph` record and the format dispatcher :func:`read_radiograph`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from apn_core.errors import ImageReadError, SpacingMissingError

log = logging.getLogger(__name__)

DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ".ima"})
TIFF_SUFFIXES = frozenset({".tif", ".tiff"})
RASTER_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
IMAGE_SUFFIXES = DICOM_SUFFIXES | TIFF_SUFFIXES | RASTER_SUFFIXES


@dataclass(frozen=True)
class Radiograph:
    """A 2-D radiograph ready for analysis.

    pixels: ``(rows, cols)`` float32, larger = more attenuation (bone bright). Values are
        the file's (after DICOM rescale), not normalised: models normalise themselves.
    spacing: ``(row_mm, col_mm)`` millimetres per pixel, or ``None`` when unknown.
    spacing_source: human-readable origin of ``spacing`` (e.g. ``"DICOM PixelSpacing"``).
    photometric: the file's photometric interpretation as stored (before inversion).
    stored_dtype: dtype of the stored samples (e.g. ``uint16``).
    meta: format-specific extras (transfer syntax, modality, ...), JSON-serialisable.
    """

    path: Path
    pixels: np.ndarray
    spacing: tuple[float, float] | None
    spacing_source: str
    photometric: str
    stored_dtype: str
    format: str
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape  # type: ignore[return-value]

    def require_spacing(self) -> tuple[float, float]:
        """The spacing, or :class:`SpacingMissingError` naming the file."""
        if self.spacing is None:
            raise SpacingMissingError(self.path)
        return self.spacing

    def with_spacing(self, spacing: tuple[float, float], source: str) -> Radiograph:
        """A copy whose spacing comes from ``source`` (e.g. a CLI option or a CSV column)."""
        return replace(self, spacing=validate_spacing(spacing, self.path), spacing_source=source)

    def summary(self) -> dict:
        """What ``apn info`` prints: size, dtype, photometric, spacing and its source."""
        rows, cols = self.shape
        out = {
            "file": str(self.path),
            "format": self.format,
            "rows": rows,
            "cols": cols,
            "stored_dtype": self.stored_dtype,
            "photometric": self.photometric,
            "spacing_mm": list(self.spacing) if self.spacing else None,
            "spacing_source": self.spacing_source,
        }
        if self.spacing:
            out["size_mm"] = [round(rows * self.spacing[0], 1), round(cols * self.spacing[1], 1)]
        out.update(self.meta)
        return out


def validate_spacing(spacing: object, path: str | Path) -> tuple[float, float]:
    """Return ``(row_mm, col_mm)`` from a number or a pair; reject non-positive/non-finite."""
    values = np.atleast_1d(np.asarray(spacing, dtype=float)).ravel()
    if values.size == 1:
        values = np.repeat(values, 2)
    if values.size != 2 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ImageReadError(path, f"invalid pixel spacing {spacing!r} (need positive mm/px)")
    return float(values[0]), float(values[1])


def is_image_file(path: str | Path) -> bool:
    """True for files whose suffix names a supported radiograph format."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _sniff(path: Path) -> str:
    """Format from the file's first bytes, falling back on the suffix."""
    with open(path, "rb") as fh:
        head = fh.read(132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff":
        return "raster"
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES or suffix == "":
        return "dicom"  # DICOM without preamble ("no meta"), common from PACS exports
    if suffix in TIFF_SUFFIXES | RASTER_SUFFIXES:
        raise ImageReadError(path, f"the content is not a {suffix[1:].upper()} image")
    raise ImageReadError(
        path, f"unsupported file type {suffix!r} (supported: {', '.join(sorted(IMAGE_SUFFIXES))})"
    )


def read_radiograph(
    path: str | Path,
    spacing: float | tuple[float, float] | None = None,
    spacing_source: str = "given explicitly",
) -> Radiograph:
    """Read a DICOM, TIFF, PNG or JPEG radiograph.

    ``spacing`` (mm/px; one number for square pixels or ``(row, col)``) overrides what the
    file says — the caller's word wins, and ``spacing_source`` records it. Without it the
    spacing comes from the file (DICOM tags, TIFF resolution) or stays ``None``.

    Raises :class:`ImageReadError` (message names the file) for missing, corrupt,
    non-image, colour or multi-frame files.
    """
    path = Path(path)
    if not path.exists():
        raise ImageReadError(path, "file not found")
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not an image file")
    kind = _sniff(path)
    if kind == "dicom":
        from apn_core.io.dicom import read_dicom as reader
    elif kind == "tiff":
        from apn_core.io.tiff import read_tiff as reader
    else:
        from apn_core.io.raster import read_raster as reader
    try:
        radiograph = reader(path)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(path, "image too large to load into memory") from None
    except Exception as exc:  # a corrupt file can make any decoder raise anything
        raise ImageReadError(path, f"cannot decode {kind.upper()} image ({exc})") from exc
    if spacing is not None:
        radiograph = radiograph.with_spacing(spacing, spacing_source)
    return radiograph


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
        path, f"colour image ({channels.shape[0]} channels that differ); a radiograph is grayscale"
    )
