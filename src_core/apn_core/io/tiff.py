"""TIFF radiographs via tifffile.

Spacing comes from XResolution/YResolution with ResolutionUnit INCH or CENTIMETER (pixels
per unit), or from ImageJ metadata (``unit`` = mm/cm/µm). ResolutionUnit NONE, or the
72/96 dpi that image editors write by default, are not a physical spacing: they are
reported as no spacing (the user then passes one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apn_core.errors import ImageReadError
from apn_core.io.radiograph import Radiograph, to_grayscale, validate_spacing

MM_PER_UNIT = {2: 25.4, 3: 10.0}  # ResolutionUnit INCH, CENTIMETER
IMAGEJ_MM_PER_UNIT = {
    "mm": 1.0,
    "millimeter": 1.0,
    "cm": 10.0,
    "micron": 1e-3,
    "µm": 1e-3,
    "um": 1e-3,
}
SCREEN_DPI = {72.0, 96.0}


def read_tiff(path: Path) -> Radiograph:
    """Read the first image series of a TIFF; see the module docstring."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            series = tif.series[0]
            if (
                len(series.shape) > 2
                and series.shape[-1] not in (3, 4)
                and np.prod(series.shape[:-2]) > 1
            ):
                raise ImageReadError(
                    path, f"multi-frame TIFF {series.shape}; give one image per file"
                )
            stored = series.asarray()
            photometric = page.photometric.name if page.photometric is not None else "MINISBLACK"
            spacing, source = _tiff_spacing(page, tif.imagej_metadata, path)
    except ImageReadError:
        raise
    except tifffile.TiffFileError as exc:
        raise ImageReadError(path, f"corrupt or unsupported TIFF ({exc})") from None
    if stored.ndim == 3:
        stored = to_grayscale(stored, path)
    if stored.ndim != 2:
        raise ImageReadError(path, f"expected a 2-D image, found shape {stored.shape}")
    pixels = stored.astype(np.float32)
    if photometric == "MINISWHITE":
        hi = float(np.iinfo(stored.dtype).max) if stored.dtype.kind in "ui" else float(pixels.max())
        pixels = hi - pixels
    return Radiograph(
        path=path,
        pixels=pixels,
        spacing=spacing,
        spacing_source=source,
        photometric=photometric,
        stored_dtype=str(stored.dtype),
        format="TIFF",
    )


def _tiff_spacing(page, imagej: dict | None, path: Path) -> tuple[tuple[float, float] | None, str]:
    tags = page.tags
    xres, yres = tags.get("XResolution"), tags.get("YResolution")
    unit_tag = tags.get("ResolutionUnit")
    unit = int(unit_tag.value) if unit_tag is not None else 2  # TIFF default: inch
    if imagej and xres is not None and str(imagej.get("unit", "")).lower() in IMAGEJ_MM_PER_UNIT:
        per_unit = IMAGEJ_MM_PER_UNIT[str(imagej["unit"]).lower()]
        px, py = _rational(xres.value), _rational(yres.value if yres else xres.value)
        return validate_spacing((per_unit / py, per_unit / px), path), "TIFF ImageJ unit"
    if xres is None or unit not in MM_PER_UNIT:
        return None, "none in file"
    px, py = _rational(xres.value), _rational(yres.value if yres else xres.value)
    if px <= 0 or py <= 0:
        return None, "none in file"
    if unit == 2 and px in SCREEN_DPI and py in SCREEN_DPI:
        return None, f"none in file (ignored the default {px:g} dpi of image editors)"
    unit_name = "inch" if unit == 2 else "cm"
    spacing = validate_spacing((MM_PER_UNIT[unit] / py, MM_PER_UNIT[unit] / px), path)
    return spacing, f"TIFF X/YResolution (per {unit_name})"


def _rational(value) -> float:
    if isinstance(value, tuple):
        num, den = value
        return float(num) / float(den) if den else 0.0
    return float(value)
