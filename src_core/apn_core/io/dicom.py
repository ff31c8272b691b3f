"""DICOM radiographs via pydicom.

Choices (documented in the README):
- MONOCHROME1 (bone dark as stored) is inverted so bone is bright in every output.
- RescaleSlope/Intercept (modality LUT) are applied.
- Spacing: ``PixelSpacing`` (calibrated at the patient), else ``ImagerPixelSpacing`` (at
  the detector; for a long-leg radiograph taken at ~1 m+ distance this overstates
  anatomy by the geometric magnification, typically 5-15 %), else
  ``NominalScannedPixelSpacing`` (digitised film); the source is always reported.
- Colour (more than one sample per pixel) and multi-frame files are rejected with a clear
  error: a long-leg radiograph is a single grayscale frame, and silently picking a frame
  or a channel could measure the wrong image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apn_core.errors import ImageReadError
from apn_core.io.radiograph import Radiograph, validate_spacing

SPACING_TAGS = (
    ("PixelSpacing", "DICOM PixelSpacing"),
    (
        "ImagerPixelSpacing",
        "DICOM ImagerPixelSpacing (at the detector, not magnification-corrected)",
    ),
    ("NominalScannedPixelSpacing", "DICOM NominalScannedPixelSpacing"),
)


def read_dicom(path: Path) -> Radiograph:
    """Read one single-frame grayscale DICOM image; see the module docstring."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_rescale

    try:
        ds = pydicom.dcmread(path, force=True)
    except InvalidDicomError as exc:
        raise ImageReadError(path, f"not a DICOM file ({exc})") from None
    if "PixelData" not in ds or "Rows" not in ds:
        sop = getattr(ds, "SOPClassUID", None)
        what = f" ({sop.name})" if sop is not None and hasattr(sop, "name") else ""
        raise ImageReadError(path, f"DICOM file without image pixel data{what}")
    samples = int(ds.get("SamplesPerPixel", 1))
    if samples != 1:
        raise ImageReadError(
            path,
            f"colour DICOM ({samples} samples per pixel, {ds.get('PhotometricInterpretation')}); "
            "a radiograph must be grayscale",
        )
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise ImageReadError(path, f"multi-frame DICOM ({frames} frames); give one frame per file")

    tsyntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    _check_decoder(path, tsyntax)
    try:
        stored = ds.pixel_array
    except Exception as exc:
        raise ImageReadError(path, f"cannot decode DICOM pixel data ({_brief(exc)})") from None
    if stored.ndim != 2:
        raise ImageReadError(path, f"expected a 2-D image, found shape {stored.shape}")

    pixels = _rescaled(stored, ds, apply_rescale)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "MONOCHROME1":
        lo, hi = _value_range(ds)
        pixels = (lo + hi) - pixels

    spacing, source = None, "none in file"
    for keyword, label in SPACING_TAGS:
        value = ds.get(keyword)
        if value:
            spacing, source = validate_spacing([float(v) for v in value], path), label
            break

    meta = {
        "modality": str(ds.get("Modality", "")),
        "transfer_syntax": tsyntax.name if tsyntax is not None else "unknown",
        "bits_stored": int(ds.get("BitsStored", stored.dtype.itemsize * 8)),
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


def _rescaled(stored: np.ndarray, ds, apply_rescale) -> np.ndarray:
    """Modality LUT as float32. The common linear case is done in float32 directly
    (pydicom's general path goes through float64: ~30 ms more on a full-size radiograph);
    a Modality LUT Sequence goes through pydicom."""
    if "ModalityLUTSequence" in ds:
        return np.asarray(apply_rescale(stored, ds), dtype=np.float32)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
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


def _value_range(ds) -> tuple[float, float]:
    """The representable range after rescale, used to invert MONOCHROME1."""
    bits = int(ds.get("BitsStored", 16))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    a, b = lo * slope + intercept, hi * slope + intercept
    return min(a, b), max(a, b)


def _brief(exc: Exception, limit: int = 300) -> str:
    """An exception's message on one line (pydicom's can span many)."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = text or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
