"""PNG and JPEG radiographs via Pillow. These formats carry no physical spacing.

An EXIF ``Orientation`` is applied (the image as displayed, :mod:`apn_core.io.orientation`);
a 16-bit colour PNG is refused (Pillow reduces it to 8 bits per channel).

Pillow reads the header lazily: the declared size is checked against
:class:`~apn_core.io.limits.ImageLimits` before any pixel is decoded. The file is opened
with the format's own Pillow class (the header said which), so apn's documented limit
applies instead of Pillow's global ``MAX_IMAGE_PIXELS`` (which other code in the same
process, such as napari, may have changed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apn_core.errors import ImageReadError, ImageTooLargeError
from apn_core.io.limits import ImageLimits, require_finite
from apn_core.io.orientation import ORIENTATION_TAG, describe, display_pixels, orientation_code
from apn_core.io.record import Radiograph, as_pixels, to_grayscale
from apn_core.io.text import brief_error

GRAY_MODES = {"L", "I", "I;16", "I;16B", "I;16L", "F", "LA", "RGB", "RGBA"}


def read_raster(path: Path, limits: ImageLimits | None = None) -> Radiograph:
    """Read a PNG/JPEG (8 or 16 bit, gray or gray-as-RGB); spacing stays unknown."""
    from PIL import Image, JpegImagePlugin, PngImagePlugin

    limits = limits or ImageLimits.from_env()
    with open(path, "rb") as fh:
        head = fh.read(26)
        is_png = head[:8] == b"\x89PNG\r\n\x1a\n"
        if is_png and head[12:16] == b"IHDR" and head[24] == 16 and head[25] in (2, 6):
            raise ImageReadError(  # Pillow would hand over 8 bits of each channel
                path,
                "16-bit colour PNG: it would be read reduced to 8 bits per channel; save "
                "the radiograph as a 16-bit grayscale PNG (or TIFF/DICOM)",
            )
        fh.seek(0)
        plugin = PngImagePlugin.PngImageFile if is_png else JpegImagePlugin.JpegImageFile
        try:
            image = plugin(fh)
        except (SyntaxError, OSError, ValueError) as exc:
            raise ImageReadError(path, f"not a valid image header ({brief_error(exc)})") from None
        cols, rows = image.size
        samples = len(image.getbands())
        limits.check(path, rows, cols, samples=samples)
        if getattr(image, "n_frames", 1) > 1:
            raise ImageReadError(
                path, f"animated image ({image.n_frames} frames); give one image per file"
            )
        try:
            image.load()
            stored = _as_array(image)
            orientation = _exif_orientation(image)
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(path, brief_error(exc)) from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageReadError(path, f"cannot decode image data ({brief_error(exc)})") from None
    if stored.ndim == 3:
        stored = to_grayscale(stored, path)
    meta = {}
    if orientation != 1:  # EXIF: the image as displayed (apn_core.io.orientation)
        stored = np.ascontiguousarray(display_pixels(stored, orientation))
        meta["orientation"] = describe(orientation, "EXIF")
    pixels = as_pixels(stored)  # integers stay integers (Radiograph.pixels)
    if stored.dtype.kind == "f":
        require_finite(path, pixels)
    return Radiograph(
        path=path,
        pixels=pixels,
        spacing=None,
        spacing_source="none (PNG/JPEG carry no spacing)",
        photometric="MONOCHROME2",
        stored_dtype=str(stored.dtype),
        format="PNG" if is_png else "JPEG",
        meta=meta,
    )


def _exif_orientation(image) -> int:
    """The EXIF Orientation code (1 when absent, or when the EXIF block is damaged: a
    broken thumbnail directory must not cost the radiograph)."""
    try:
        return orientation_code(image.getexif().get(ORIENTATION_TAG, 1))
    except Exception:
        return 1


def _as_array(image) -> np.ndarray:
    """Pixels as stored: palette and bilevel images expanded, everything else as is."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode not in GRAY_MODES:  # CMYK, YCbCr, LAB, ...: colour models
        image = image.convert("RGB")
    return np.asarray(image)
