"""TIFF radiographs via tifffile.

Which page: a radiograph is one image. A file whose other pages are all marked as
reduced-resolution (NewSubfileType bit 0: thumbnails, pyramid levels) or transparency
masks (bit 2) is read from its one full-resolution page; several full-resolution pages
are refused (a stack of equal pages is "multi-frame"; pages of different sizes are listed
with their sizes), since silently using page 1 could measure the wrong image.

Before decoding, the page's declared size is checked against
:class:`~apn_core.io.limits.ImageLimits`, its strips/tiles must lie inside the file, hold at
most :data:`MAX_COMPRESSED_RATIO` × their pixels' bytes compressed, and a zlib or LZMA one
must not inflate beyond them (checked with a bound: tifffile's own decoder inflates a
whole strip first). Palette and complex-valued images are refused (read as gray or cast to
real they would be another image). ``Orientation`` is applied: the pixels are the image as
displayed (:mod:`apn_core.io.orientation`), the spacing follows the axes.

Spacing comes from XResolution/YResolution with ResolutionUnit INCH or CENTIMETER (pixels
per unit), or from ImageJ metadata (``unit`` = mm/cm/µm). ResolutionUnit NONE, or the
72/96 dpi that image editors write by default, are not a physical spacing: they are
reported as no spacing (the user then passes one). A zero, negative or non-finite
resolution is reported as invalid (no spacing), never an error that loses the image.
"""

from __future__ import annotations

import lzma
import zlib
from pathlib import Path

import numpy as np

from apn_core.errors import ImageReadError
from apn_core.io.codestreams import InflateLimitError, inflate_within
from apn_core.io.limits import (
    ImageLimits,
    check_extent,
    require_finite,
    require_float32_range,
)
from apn_core.io.orientation import (
    ORIENTATION_TAG,
    TRANSPOSING,
    describe,
    display_pixels,
    orientation_code,
)
from apn_core.io.record import Radiograph, as_pixels, to_grayscale
from apn_core.io.text import brief_error
from apn_core.spacing import Spacing, as_spacing

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
MAX_PAGES = 64  # more pages than this is not a radiograph; don't walk a huge IFD chain
MAX_COMPRESSED_RATIO = 2  # compressed bytes per pixel byte (LZW's worst case is ~1.5)
BOUNDED_CODECS = {8: "zlib", 32946: "zlib", 34925: "lzma"}  # TIFF Compression → codec
REDUCED, MASK = 1, 4  # NewSubfileType bits


def read_tiff(path: Path, limits: ImageLimits | None = None) -> Radiograph:
    """Read the one full-resolution image of a TIFF; see the module docstring."""
    import tifffile

    limits = limits or ImageLimits.from_env()
    try:
        with tifffile.TiffFile(path) as tif:
            page = _choose_page(tif, path)
            _check_declared(page, path, limits)
            stored = page.asarray()
            photometric = page.photometric.name if page.photometric is not None else "MINISBLACK"
            spacing, source = _tiff_spacing(page, tif.imagej_metadata)
            axes = page.axes
            tag = page.tags.get(ORIENTATION_TAG)
            orientation = orientation_code(tag.value if tag is not None else 1)
    except ImageReadError:
        raise
    except tifffile.TiffFileError as exc:
        raise ImageReadError(path, f"corrupt or unsupported TIFF ({brief_error(exc)})") from None
    if stored.ndim == 3 and "S" in axes:
        stored = to_grayscale(stored, path, channel_axis=axes.index("S"))
    if stored.ndim != 2:
        raise ImageReadError(path, f"expected a 2-D image, found shape {stored.shape} ({axes})")
    require_float32_range(path, stored)
    meta = {}
    if orientation != 1:  # the image as displayed (apn_core.io.orientation)
        stored = np.ascontiguousarray(display_pixels(stored, orientation))
        if spacing is not None and orientation in TRANSPOSING:
            spacing = (spacing[1], spacing[0])
        meta["orientation"] = describe(orientation, "TIFF")
    pixels = as_pixels(stored)  # integers stay integers (Radiograph.pixels)
    if stored.dtype.kind == "f":
        require_finite(path, pixels)
    if photometric == "MINISWHITE":
        pixels = _inverted(pixels)
    return Radiograph(
        path=path,
        pixels=pixels,
        spacing=spacing,
        spacing_source=source,
        photometric=photometric,
        stored_dtype=str(stored.dtype),
        format="TIFF",
        meta=meta,
    )


def _inverted(pixels: np.ndarray) -> np.ndarray:
    """MINISWHITE → bone bright: the type's maximum minus the value (unsigned: ``~x``, in
    the stored type; signed: in float32, where it cannot wrap around), floats mirrored on
    their own maximum."""
    if pixels.dtype.kind == "u":
        return np.invert(pixels, out=pixels if pixels.flags.writeable else None)
    if pixels.dtype.kind == "i":
        return np.float32(np.iinfo(pixels.dtype).max) - pixels.astype(np.float32)
    return np.subtract(np.float32(pixels.max()), pixels, out=pixels)


def _choose_page(tif, path: Path):
    """The single full-resolution page (see the module docstring)."""
    pages = []
    for n, page in enumerate(tif.pages):
        if n >= MAX_PAGES:
            raise ImageReadError(path, f"more than {MAX_PAGES} pages; a radiograph is one image")
        pages.append(page)
    if not pages:
        raise ImageReadError(path, "TIFF without any image page")
    full = [p for p in pages if not int(p.subfiletype) & (REDUCED | MASK)]
    if len(full) == 1:
        return full[0]
    if not full:
        raise ImageReadError(path, "every page is marked as a reduced-resolution or mask page")
    shapes = [_size(p) for p in full]
    if len(set(shapes)) == 1:
        raise ImageReadError(
            path,
            f"multi-frame TIFF ({len(full)} pages of {shapes[0]}); give one image per file",
        )
    listed = ", ".join(shapes[:8]) + (", ..." if len(shapes) > 8 else "")
    raise ImageReadError(
        path,
        f"{len(full)} pages of different sizes ({listed}), none marked as a reduced-"
        "resolution thumbnail; which one is the radiograph is ambiguous — give one image "
        "per file",
    )


def _size(page) -> str:
    return f"{page.imagelength} × {page.imagewidth}"


def _check_declared(page, path: Path, limits: ImageLimits) -> None:
    """Declared size within the limits and pixel data inside the file, before decoding."""
    limits.check(
        path,
        int(page.imagelength),
        int(page.imagewidth),
        samples=int(page.samplesperpixel),
        frames=int(page.imagedepth),
    )
    if page.dtype is None:
        raise ImageReadError(path, "unsupported TIFF sample format")
    if page.photometric is not None and page.photometric.name == "PALETTE":
        raise ImageReadError(
            path,
            "palette-colour TIFF (pixel values index a colour table); a radiograph is "
            "grayscale — re-export it as grayscale",
        )
    if page.dtype.kind == "c":  # casting to real would silently drop the imaginary part
        raise ImageReadError(
            path, f"complex-valued pixels ({page.dtype}); a radiograph is real-valued"
        )
    ends = [int(o) + int(c) for o, c in zip(page.dataoffsets, page.databytecounts, strict=False)]
    if ends:
        check_extent(path, max(ends), what="pixel data (strips/tiles)")
    _check_segments(page, path)


def _check_segments(page, path: Path) -> None:
    """Each compressed strip/tile must fit the pixels it declares: at most
    :data:`MAX_COMPRESSED_RATIO` × their size in compressed bytes (a 1 MB zlib strip for
    a 64 × 64 image is a bomb, not a radiograph), and a zlib or LZMA one must not inflate
    beyond them — checked by inflating it with a bound, since tifffile's own decoder
    inflates all of it first (1 MB → 2 GB) and cuts afterwards."""
    compression = int(page.compression)
    if compression == 1:
        return
    kind = "tile" if page.is_tiled else "strip"
    expected = int(np.prod(page.chunks)) * page.dtype.itemsize  # bytes of one segment
    codec = BOUNDED_CODECS.get(compression)
    fh = page.parent.filehandle
    for n, (offset, count) in enumerate(zip(page.dataoffsets, page.databytecounts, strict=False)):
        if count > MAX_COMPRESSED_RATIO * expected + 1024:
            raise ImageReadError(
                path,
                f"{kind} {n} holds {int(count):,} compressed bytes for {expected:,} bytes of "
                f"pixels ({page.imagelength} × {page.imagewidth} declared); refusing to decode",
            )
        if codec is None or count == 0:
            continue
        fh.seek(int(offset))
        try:
            inflate_within(fh.read(int(count)), expected, codec)
        except InflateLimitError:
            raise ImageReadError(
                path,
                f"{kind} {n} inflates to more than the {expected:,} bytes its "
                f"{' × '.join(map(str, page.chunks))} pixels need; refusing to decode",
            ) from None
        except (zlib.error, lzma.LZMAError):
            continue  # damaged: tifffile's decoder reports it


def _tiff_spacing(page, imagej: dict | None) -> tuple[Spacing | None, str]:
    tags = page.tags
    xres, yres = tags.get("XResolution"), tags.get("YResolution")
    unit_tag = tags.get("ResolutionUnit")
    try:
        unit = int(unit_tag.value) if unit_tag is not None else 2  # TIFF default: inch
    except (TypeError, ValueError):
        return None, "TIFF ResolutionUnit is invalid"
    if xres is None:
        return None, "none in file"
    px, py = _rational(xres.value), _rational(yres.value if yres else xres.value)
    ij_unit = str(imagej.get("unit", "")).lower() if imagej else ""
    if ij_unit in IMAGEJ_MM_PER_UNIT:
        per_unit, label = IMAGEJ_MM_PER_UNIT[ij_unit], "TIFF ImageJ unit"
    elif unit in MM_PER_UNIT:
        if unit == 2 and px in SCREEN_DPI and py in SCREEN_DPI:
            return None, f"none in file (ignored the default {px:g} dpi of image editors)"
        per_unit = MM_PER_UNIT[unit]
        label = f"TIFF X/YResolution (per {'inch' if unit == 2 else 'cm'})"
    else:
        return None, "none in file"
    try:
        return as_spacing((per_unit / py, per_unit / px)), label
    except (ValueError, ZeroDivisionError, OverflowError):
        return None, f"{label} is invalid ({px:g} × {py:g} px per unit)"


def _rational(value) -> float:
    try:
        if isinstance(value, tuple):
            num, den = value
            return float(num) / float(den) if den else 0.0
        return float(value)
    except (TypeError, ValueError):
        return 0.0
