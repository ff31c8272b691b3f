"""Writing radiographs (used by the synthetic generator and tests), atomically."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from apn_core.utils.atomic import atomic_path

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"


def write_dicom(
    path: str | Path,
    stored: np.ndarray,
    spacing: tuple[float, float],
    photometric: str = "MONOCHROME2",
    bits_stored: int = 16,
    spacing_tag: str = "PixelSpacing",
    patient_id: str = "PHANTOM",
    description: str = "",
) -> Path:
    """Write a single-frame DX DICOM (explicit VR little endian).

    ``stored`` must already be in the file's photometric convention (for MONOCHROME1,
    bone dark). ``spacing`` is (row, col) mm/px, written to ``spacing_tag`` and, as a real
    detector would, also to ImagerPixelSpacing.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    stored = np.ascontiguousarray(stored, dtype=np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.PatientID = patient_id
    ds.PatientName = patient_id
    ds.StudyDate = _dt.date.today().strftime("%Y%m%d")
    ds.SeriesDescription = description
    ds.BodyPartExamined = "LEG"
    ds.ViewPosition = "AP"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.RescaleSlope = 1
    ds.RescaleIntercept = 0
    spacing_value = [f"{spacing[0]:.6g}", f"{spacing[1]:.6g}"]
    setattr(ds, spacing_tag, spacing_value)
    if spacing_tag != "ImagerPixelSpacing":
        ds.ImagerPixelSpacing = spacing_value
    ds.PixelData = stored.tobytes()
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return Path(path)


def write_tiff(path: str | Path, stored: np.ndarray, spacing: tuple[float, float] | None) -> Path:
    """Write a grayscale TIFF with X/YResolution in pixels per centimetre (if spacing given)."""
    import tifffile

    kwargs = {}
    if spacing is not None:
        kwargs = {
            "resolution": (10.0 / spacing[1], 10.0 / spacing[0]),
            "resolutionunit": "CENTIMETER",
        }
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, stored, photometric="minisblack", compression="zlib", **kwargs)
    return Path(path)
