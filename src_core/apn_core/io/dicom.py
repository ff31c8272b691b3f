"""DICOM radiographs via pydicom.

Choices (documented in the README):
- The header is read first with the pixel data deferred; the declared size (Rows ×
  Columns × samples × frames) is checked against :class:`~apn_core.io.limits.ImageLimits`
  and, for uncompressed data, the declared pixel-data length against the file's length,
  before anything is decoded.
- JPEG / JPEG 2000 pixel data must declare the header's size in its own codestream, and a
  Deflated dataset is inflated with a bound (:mod:`apn_core.io.dicom_streams`).
- MONOCHROME1 (bone dark as stored; any letter case) is inverted so bone is bright in every
  output; PALETTE COLOR is refused (its values index a colour table); BitsStored must be
  1..BitsAllocated (0 masked every pixel to "blank").
- RescaleSlope/Intercept (modality LUT) are applied; they must be finite numbers.
- Pixels stay the stored integers when no rescale applies (MONOCHROME1 inverted in place,
  in the same type); otherwise they are float32 (see :class:`Radiograph`).
- Spacing: ``PixelSpacing`` (calibrated at the patient), else ``ImagerPixelSpacing`` (at
  the detector; for a long-leg radiograph taken at ~1 m+ distance this overstates
  anatomy by the geometric magnification, typically 5-15 %), else
  ``NominalScannedPixelSpacing`` (digitised film); the source is always reported. The
  first tag present is parsed with :func:`apn_core.spacing.parse_spacing`; if it is
  invalid (``0\\0``, text) the file has no usable spacing (``spacing_source`` says why) and
  a spacing given by the user is used — the next tag is not silently substituted.
- Colour (more than one sample per pixel) and multi-frame files are rejected with a clear
  error: a long-leg radiograph is a single grayscale frame, and silently picking a frame
  or a channel could measure the wrong image.
- Float pixel data (Float/Double Float Pixel Data) are read; NaN or infinite values are
  refused (:func:`apn_core.io.limits.require_finite`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apn_core.errors import ImageReadError
from apn_core.io.dicom_streams import check_codestream, read_dataset
from apn_core.io.limits import (
    ImageLimits,
    require_finite,
    require_float32_range,
)
from apn_core.io.record import Radiograph, grayscale_hint
from apn_core.io.text import brief_error, safe_text
from apn_core.spacing import Spacing, parse_decimal, parse_spacing

SPACING_TAGS = (
    ("PixelSpacing", "DICOM PixelSpacing"),
    (
        "ImagerPixelSpacing",
        "DICOM ImagerPixelSpacing (at the detector, not magnification-corrected)",
    ),
    ("NominalScannedPixelSpacing", "DICOM NominalScannedPixelSpacing"),
)
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
DEFER_BYTES = 64 * 1024  # element values larger than this are read only when used
UNDEFINED_LENGTH = 0xFFFFFFFF


def read_dicom(path: Path, limits: ImageLimits | None = None) -> Radiograph:
    """Read one single-frame grayscale DICOM image; see the module docstring."""
    from pydicom.errors import InvalidDicomError

    limits = limits or ImageLimits.from_env()
    try:
        ds, data_size = read_dataset(path, limits, DEFER_BYTES)
    except InvalidDicomError as exc:
        raise ImageReadError(path, f"not a DICOM file ({exc})") from None
    keyword = next((k for k in PIXEL_KEYWORDS if k in ds), None)
    if keyword is None or "Rows" not in ds:
        sop = getattr(ds, "SOPClassUID", None)
        what = f" ({sop.name})" if sop is not None and hasattr(sop, "name") else ""
        raise ImageReadError(path, f"DICOM file without image pixel data{what}")

    rows, cols = _whole(ds, "Rows", path), _whole(ds, "Columns", path)
    samples = _whole(ds, "SamplesPerPixel", path, default=1)
    frames = _whole(ds, "NumberOfFrames", path, default=1)
    limits.check(path, rows, cols, samples, frames)
    photometric = safe_text(_text(ds, "PhotometricInterpretation") or "MONOCHROME2", 40).strip()
    if samples != 1:
        raise ImageReadError(
            path,
            f"colour DICOM ({samples} samples per pixel, {photometric}); a radiograph must be "
            "grayscale: export the grayscale original from the archive, or " + grayscale_hint(path),
        )
    if photometric.upper() == "PALETTE COLOR":
        raise ImageReadError(
            path,
            "PALETTE COLOR DICOM: its pixel values index a colour lookup table, they are "
            "not intensities; a radiograph is MONOCHROME1/MONOCHROME2",
        )
    bone_dark = photometric.upper() == "MONOCHROME1"  # the code is case-insensitive in practice
    if photometric != photometric.upper() and "PhotometricInterpretation" in ds:
        ds.PhotometricInterpretation = photometric.upper()  # what pydicom's decoders accept
    if frames != 1:
        raise ImageReadError(path, f"multi-frame DICOM ({frames} frames); give one frame per file")
    _check_bits(path, ds)

    tsyntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    _check_length(path, ds, keyword, rows * cols, tsyntax, data_size)
    _check_decoder(path, tsyntax)
    if tsyntax is not None and tsyntax.is_encapsulated:
        check_codestream(path, ds, keyword, tsyntax, rows, cols)
    slope, intercept = (
        _number(ds, "RescaleSlope", path, 1.0),
        _number(ds, "RescaleIntercept", path, 0.0),
    )
    if slope == 0:
        raise ImageReadError(path, "RescaleSlope is 0 (every pixel would have the same value)")
    try:
        stored = _native_pixels(path, ds, keyword, rows, cols, tsyntax)
        if stored is None:
            stored = ds.pixel_array
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(path, f"cannot decode DICOM pixel data ({brief_error(exc)})") from None
    if stored.shape != (rows, cols):
        raise ImageReadError(
            path, f"expected a {rows} × {cols} image, decoded shape {stored.shape}"
        )
    require_float32_range(path, stored, slope, intercept)

    pixels = None
    if stored.dtype.kind in "ui" and slope == 1.0 and intercept == 0.0:
        pixels = stored  # the common case: no float copy (Radiograph.pixels)
        if "ModalityLUTSequence" in ds:
            pixels = None
        elif bone_dark:
            pixels = _inverted_integers(stored, ds)
    if pixels is None:
        pixels = _rescaled(stored, ds, slope, intercept)
        if stored.dtype.kind == "f" or slope != 1.0 or intercept != 0.0:
            require_finite(path, pixels)
        if bone_dark:
            if stored.dtype.kind == "f":  # no representable range: mirror the data's own
                lo, hi = float(pixels.min()), float(pixels.max())
            else:
                lo, hi = _value_range(ds, slope, intercept)
            np.subtract(np.float32(lo + hi), pixels, out=pixels)

    spacing, source = file_spacing(ds)
    meta = {
        "modality": safe_text(_text(ds, "Modality") or ""),
        "transfer_syntax": tsyntax.name if tsyntax is not None else "unknown",
        "bits_stored": _whole(ds, "BitsStored", path, default=stored.dtype.itemsize * 8),
    }
    return Radiograph(
        path=path,
        pixels=pixels,
        spacing=spacing,
        spacing_source=source,
        photometric=photometric,
        stored_dtype=str(stored.dtype),
        format="DICOM",
        meta=meta,
    )


def file_spacing(ds) -> tuple[Spacing | None, str]:
    """The spacing from the first spacing tag present, or ``None`` and why there is none."""
    for keyword, label in SPACING_TAGS:
        text = _text(ds, keyword)
        if text is None or not text.strip():
            continue
        try:
            spacing = parse_spacing(text)
        except ValueError:
            spacing = None
        if spacing is None:
            shown = safe_text(text.strip(), 40)
            return None, f"{label} is invalid ('{shown}')"
        return spacing, label
    return None, "none in file"


def _text(ds, keyword: str) -> str | None:
    """A tag's value as the text stored in the file (pydicom's DS parsing is lenient:
    it reads ``1_0`` as 10), or ``None`` when the tag is absent."""
    try:
        elem = ds.get_item(keyword)
    except Exception:  # a damaged element: treat as text we cannot read
        return "<unreadable>"
    if elem is None:
        return None
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1").rstrip("\x00 ")
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _whole(ds, keyword: str, path: Path, default: int | None = None) -> int:
    """A count tag (Rows, NumberOfFrames, ...) as an int; garbage is a clear error."""
    try:
        value = ds.get(keyword)
    except Exception:
        value = _text(ds, keyword)
    if value is None or value == "":
        if default is None:
            raise ImageReadError(path, f"DICOM tag {keyword} is missing")
        return default
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        raise ImageReadError(
            path, f"DICOM tag {keyword} is {safe_text(text, 40)!r}, not a whole number"
        )
    return int(text)


def _number(ds, keyword: str, path: Path, default: float) -> float:
    """A decimal-string tag (RescaleSlope, ...) parsed strictly; must be finite."""
    text = _text(ds, keyword)
    if text is None or not text.strip():
        return default
    try:
        return parse_decimal(text)
    except ValueError:
        raise ImageReadError(
            path, f"DICOM tag {keyword} is {safe_text(text, 40)!r}, not a finite number"
        ) from None


def _check_bits(path: Path, ds) -> None:
    """BitsStored within 1..BitsAllocated: ``BitsStored 0`` is a malformed header, and
    masking the pixels to no bits made every image "blank"."""
    allocated = _whole(ds, "BitsAllocated", path, default=16)
    stored = _whole(ds, "BitsStored", path, default=allocated)
    if not 1 <= stored <= allocated:
        raise ImageReadError(
            path,
            f"malformed DICOM header: BitsStored is {stored} with BitsAllocated {allocated} "
            "(BitsStored must be 1 to BitsAllocated)",
        )


def _check_length(
    path: Path, ds, keyword: str, n_pixels: int, tsyntax, data_size: int | None = None
) -> None:
    """Uncompressed pixel data must be as long as the header says, and inside the data
    (``data_size``: the file's bytes, or a Deflated DICOM's inflated ones)."""
    elem = ds.get_item(keyword, keep_deferred=True)
    length = getattr(elem, "length", None)
    tell = getattr(elem, "value_tell", None)
    if length is None or tell is None or length == UNDEFINED_LENGTH:
        return  # encapsulated (compressed) data: the decoder checks its fragments
    size = path.stat().st_size if data_size is None else data_size
    if tell + length > size:
        raise ImageReadError(
            path,
            f"truncated file: its {keyword} ({length:,} bytes) is declared to end at byte "
            f"{tell + length:,} but the data has {size:,} bytes",
        )
    if tsyntax is not None and tsyntax.is_compressed:
        return
    bits = _whole(ds, "BitsAllocated", path, default=16)
    if bits not in (1, 8, 16, 32, 64):
        raise ImageReadError(path, f"DICOM BitsAllocated is {bits}; expected 1, 8, 16, 32 or 64")
    needed = (n_pixels + 7) // 8 if bits == 1 else n_pixels * bits // 8
    if length < needed:
        raise ImageReadError(
            path,
            f"truncated pixel data: {keyword} holds {length:,} bytes, the header declares "
            f"{needed:,} ({_whole(ds, 'Rows', path)} × {_whole(ds, 'Columns', path)} at "
            f"{bits} bits) — less than expected",
        )


def _rescaled(stored: np.ndarray, ds, slope: float, intercept: float) -> np.ndarray:
    """Modality LUT as float32. The common linear case is done in float32 directly
    (pydicom's general path goes through float64: ~30 ms more on a full-size radiograph);
    a Modality LUT Sequence goes through pydicom."""
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_rescale

        return np.asarray(apply_rescale(stored, ds), dtype=np.float32)
    pixels = stored.astype(np.float32)
    if slope != 1.0:
        pixels *= np.float32(slope)
    if intercept != 0.0:
        pixels += np.float32(intercept)
    return pixels


def _check_decoder(path: Path, tsyntax) -> None:
    """Name the missing package when a compressed transfer syntax has no decoder."""
    if tsyntax is None or not tsyntax.is_compressed:
        return
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        raise ImageReadError(
            path, f"pydicom cannot decode transfer syntax {tsyntax.name}"
        ) from None
    if not decoder.is_available:
        needs = "; ".join(decoder.missing_dependencies) or "a pixel data handler"
        raise ImageReadError(
            path,
            f"compressed DICOM ({tsyntax.name}) but no decoder is installed: {needs} "
            "(pip install 'napari-apn[dicom-codecs]')",
        )


def _native_pixels(
    path: Path, ds, keyword: str, rows: int, cols: int, tsyntax
) -> np.ndarray | None:
    """Uncompressed little-endian 8/16-bit pixel data read from the file straight into a
    writable array: bit for bit what pydicom's ``pixel_array`` returns for it (bits above
    BitsStored cleared, or sign-extended from it, as pydicom does; no modality LUT),
    without its second full-size copy (pydicom holds the bytes and a copy of them: 2× the
    pixel data at its peak) and in a third of the time. ``None`` for anything else —
    pydicom decodes it."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    if keyword != "PixelData" or tsyntax not in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        return None
    bits = _whole(ds, "BitsAllocated", path, default=16)
    signed = _whole(ds, "PixelRepresentation", path, default=0) == 1
    elem = ds.get_item(keyword, keep_deferred=True)
    tell, length = getattr(elem, "value_tell", None), getattr(elem, "length", None)
    if bits not in (8, 16) or getattr(elem, "value", None) is not None or tell is None:
        return None
    pixels = np.empty((rows, cols), np.dtype(f"<{'i' if signed else 'u'}{bits // 8}"))
    if length is None or length < pixels.nbytes:
        return None
    with open(path, "rb") as fh:
        fh.seek(tell)
        if fh.readinto(memoryview(pixels).cast("B")) != pixels.nbytes:
            raise ImageReadError(path, "truncated pixel data: the file ends inside it")
    _clear_unused_bits(pixels, _whole(ds, "BitsStored", path, default=bits))
    return pixels


def _clear_unused_bits(pixels: np.ndarray, bits_stored: int) -> None:
    """What pydicom's ``correct_unused_bits`` does, in place and only where a value needs
    it: the bits above ``bits_stored`` carry nothing (DICOM PS3.5 8.1.1)."""
    shift = pixels.dtype.itemsize * 8 - bits_stored
    if shift <= 0 or pixels.size == 0:
        return
    if pixels.dtype.kind == "u":
        top = (1 << bits_stored) - 1
        if int(pixels.max()) > top:
            np.bitwise_and(pixels, pixels.dtype.type(top), out=pixels)
        return
    half = 1 << (bits_stored - 1)
    if int(pixels.min()) < -half or int(pixels.max()) >= half:
        np.left_shift(pixels, shift, out=pixels)
        np.right_shift(pixels, shift, out=pixels)


def _inverted_integers(stored: np.ndarray, ds) -> np.ndarray | None:
    """MONOCHROME1 → bone bright without leaving the stored type: ``(lo + hi) − x`` over the
    representable range, in place. Signed: ``lo + hi = −1`` for every bit depth, so it is
    ``~x``. Unsigned: ``2**BitsStored − 1 − x``, or ``None`` (use float32) when a value
    lies above that range and would wrap around."""
    out = stored if stored.flags.writeable else stored.copy()
    if stored.dtype.kind == "i":
        return np.invert(out, out=out)
    top = 2 ** int(ds.get("BitsStored", 16)) - 1
    if top > np.iinfo(stored.dtype).max or (stored.size and int(stored.max()) > top):
        return None
    return np.subtract(stored.dtype.type(top), out, out=out)


def _value_range(ds, slope: float, intercept: float) -> tuple[float, float]:
    """The representable range after rescale, used to invert MONOCHROME1."""
    bits = int(ds.get("BitsStored", 16))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    a, b = lo * slope + intercept, hi * slope + intercept
    return min(a, b), max(a, b)
