"""How a radiograph is stored: file format, bit depth, photometric interpretation, JPEG.

Formats: ``dicom`` (MONOCHROME2), ``dicom-mono1`` (MONOCHROME1: bone dark as stored),
``tiff`` (resolution tags in cm), ``png`` (8 or 16 bit) and ``jpeg`` (8 bit, lossy).
PNG and JPEG carry no pixel spacing: the folder writer puts it in ``landmarks.csv``'s
``spacing_mm`` column. JPEG is encoded here, so a case's pixels are the decoded file's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apn_core.synth.draws import Draws, pick

FORMATS = ("dicom", "dicom-mono1", "tiff", "png", "jpeg")
SUFFIX = {"dicom": ".dcm", "dicom-mono1": ".dcm", "tiff": ".tif", "png": ".png", "jpeg": ".jpg"}
CARRIES_SPACING = {"dicom", "dicom-mono1", "tiff"}


@dataclass(frozen=True)
class StoragePriors:
    """Distributions of how the image is stored.

    formats: file formats this kind of image comes in (the config's ``formats`` narrows
        them; when none is left, the config's formats are used).
    bits: bit depths drawn for DICOM, TIFF and PNG (8 = an 8-bit export even in DICOM;
        PNG stores more than 8 bits in a 16-bit container); JPEG is always 8 bit.
    jpeg_quality: JPEG quality range.
    """

    formats: tuple[str, ...] = ("dicom", "tiff")
    bits: tuple[int, ...] = (12, 14, 16)
    jpeg_quality: tuple[int, int] = (30, 95)


@dataclass
class Storage:
    """How one radiograph is stored (saved in the case metadata)."""

    format: str
    bits: int
    jpeg_quality: int

    @property
    def photometric(self) -> str:
        return "MONOCHROME1" if self.format == "dicom-mono1" else "MONOCHROME2"

    @classmethod
    def sample(cls, draws: Draws, pri: StoragePriors, allowed: tuple[str, ...]) -> Storage:
        rng = draws("storage")
        options = tuple(f for f in pri.formats if f in allowed) or tuple(allowed)
        fmt = pick(rng, options)
        bits = int(pick(rng, pri.bits or (16,)))
        quality = int(rng.integers(pri.jpeg_quality[0], pri.jpeg_quality[1] + 1))
        if fmt == "jpeg":
            bits = 8
        return cls(format=fmt, bits=bits, jpeg_quality=quality)


def quantise(v: np.ndarray, storage: Storage) -> tuple[np.ndarray, bytes | None]:
    """Display image (0–1, bone bright) → stored pixels in the file's photometric convention
    (uint8 for 8 bit, else uint16), and the encoded JPEG bytes (None for other formats)."""
    top = 2**storage.bits - 1
    dtype = np.uint8 if storage.bits <= 8 else np.uint16
    stored = np.round(np.clip(v, 0.0, 1.0) * top).astype(dtype)
    if storage.photometric == "MONOCHROME1":
        stored = (top - stored).astype(dtype)
    if storage.format != "jpeg":
        return stored, None
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, format="JPEG", quality=storage.jpeg_quality)
    encoded = buf.getvalue()
    decoded = np.asarray(Image.open(io.BytesIO(encoded)).convert("L"), dtype=np.uint8)
    return decoded, encoded


def write_image(
    path: Path,
    stored: np.ndarray,
    storage: Storage,
    spacing: float,
    stem: str,
    encoded: bytes | None = None,
) -> Path:
    """Write the stored pixels to ``path`` (atomically) in the case's format."""
    from apn_core.io import write_dicom, write_tiff
    from apn_core.utils.atomic import atomic_path

    if storage.format in ("dicom", "dicom-mono1"):
        return write_dicom(
            path,
            stored,
            (spacing, spacing),
            storage.photometric,
            storage.bits,
            patient_id=stem,
            description="napari-apn synthetic long-leg radiograph",
        )
    if storage.format == "tiff":
        return write_tiff(path, stored, (spacing, spacing))
    with atomic_path(path) as tmp:
        if encoded is not None:
            tmp.write_bytes(encoded)
        else:
            from PIL import Image

            Image.fromarray(stored).save(tmp, format="PNG")
    return path
