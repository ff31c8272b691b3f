"""The source image an SR or presentation state refers to, and the UIDs of what is made.

Everything that identifies the patient and the study is **copied** from the source
image's header, never invented. A source without the UIDs a reference needs (Study,
Series and SOP Instance UID, SOP Class UID) is refused: the SR would point at nothing.
Type 2 attributes (PatientBirthDate, PatientSex, AccessionNumber, StudyID, StudyTime,
ReferringPhysicianName) that the source lacks are written **empty** — "unknown", as
DICOM defines an empty Type 2 value — which is also what highdicom needs to build the
Patient and General Study modules.

UIDs are derived, not random: ``2.25.<UUID>`` (ISO/IEC 9834-8) with a name-based UUID
(version 5) of the source SOP Instance UID and :meth:`Algorithm.key` (model weights and
calibration SHA-256, the options that change results). The same model and options on
the same image give the same SR and presentation-state UIDs, so a re-run — locally or
against a PACS — recognises what it already made and stores nothing twice; another
model, calibration or option gives new UIDs, and no two source images share one.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from apn_core.errors import FileProblem

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_OID, "napari-apn DICOM outputs")
REQUIRED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
TYPE2_EMPTY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
)
NOT_DICOM = (
    "--sr writes DICOM objects that reference their source image, and this input is not a "
    "DICOM image ({why}); predict it without --sr (its landmarks go to landmarks.csv), or "
    "give the DICOM file it came from"
)


def derived_uid(*parts: str) -> str:
    """A UID that is a function of ``parts``: ``2.25.`` + a version-5 UUID as an integer."""
    return f"2.25.{uuid.uuid5(_NAMESPACE, '|'.join(parts)).int}"


def read_source(path: str | Path):
    """The header of a DICOM image (pixel data left on disk), checked for the UIDs an SR
    must reference; :class:`FileProblem` (with how to go on) for anything else."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from apn_core.utils.files import open_regular

    path = Path(path)
    try:  # a regular file only: pydicom would wait forever on a FIFO
        with open_regular(path, "image") as fh:
            ds = pydicom.dcmread(fh, stop_before_pixels=True)
    except InvalidDicomError:
        raise FileProblem(path, NOT_DICOM.format(why="no DICOM file header")) from None
    except (OSError, ValueError, EOFError) as exc:
        raise FileProblem(path, NOT_DICOM.format(why=f"{type(exc).__name__}: {exc}")) from None
    missing = [k for k in REQUIRED if not str(ds.get(k, "") or "").strip()]
    if missing:
        raise FileProblem(path, NOT_DICOM.format(why=f"it has no {', '.join(missing)} to refer to"))
    if int(ds.get("NumberOfFrames", 1) or 1) != 1:
        raise FileProblem(path, NOT_DICOM.format(why="a multi-frame image"))
    return ds


def evidence(ds):
    """A copy of the source header for highdicom: missing Type 2 attributes set empty
    (see the module docstring); nothing else changes."""
    copy = ds.copy()
    for keyword in TYPE2_EMPTY:
        if keyword not in copy:
            setattr(copy, keyword, "")
    return copy


def is_dicom_input(path: str | Path) -> str | None:
    """None when ``path`` can be the source of an SR, else why not (for the summary)."""
    try:
        read_source(path)
    except FileProblem as exc:
        return exc.problem
    return None
