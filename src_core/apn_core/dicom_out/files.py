"""Where ``apn predict --sr`` puts its DICOM objects, and writing them atomically:

    OUT/dicom/<name>.sr.dcm    TID 1500 Measurement Report (Comprehensive 3D SR)
    OUT/dicom/<name>.pr.dcm    Grayscale Softcopy Presentation State

(``<name>``: the image's output name, as for its ``.mrk.json``.) They are made from the
image's record (``OUT/predictions/<name>.json``) and the source file's header, after the
record is written — so an image whose result is already done gets its SR on a later
``--sr`` run without being predicted again. An existing pair is kept when it carries the
UIDs this result would get (:mod:`apn_core.dicom_out.source`: same source, model and
options) and rewritten otherwise; a result predicted again without ``--sr`` has its old
pair removed, so the folder never holds an SR of a result that is gone.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from apn_core.errors import ApnError, FileProblem
from apn_core.utils.atomic import atomic_path

log = logging.getLogger(__name__)
FOLDER = "dicom"


def sr_path(out: str | Path, name: str) -> Path:
    return Path(out) / FOLDER / f"{name}.sr.dcm"


def pr_path(out: str | Path, name: str) -> Path:
    return Path(out) / FOLDER / f"{name}.pr.dcm"


@dataclass(frozen=True)
class DicomOutputs:
    """One image's SR and presentation state: files and UIDs (what a PACS upload needs)."""

    sr: Path
    pr: Path
    study_uid: str
    sr_uid: str
    pr_uid: str
    written: bool  # False: the files already held this result


@dataclass
class DicomReport:
    """What :func:`write_for_job` did: ``outputs`` by output name, ``failed`` (name, why)."""

    outputs: dict[str, DicomOutputs] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(o.written for o in self.outputs.values())


def split_sources(images: list) -> tuple[list, list[tuple[str, str]]]:
    """``InputImage``s that can have an SR (DICOM images with their UIDs), and the others
    as ``(name, why)`` — checked before any prediction; needs the ``[dicom]`` extra."""
    from apn_core.dicom_out import require
    from apn_core.dicom_out.source import is_dicom_input

    require()
    keep, refused = [], []
    for image in images:
        why = is_dicom_input(image.path)
        if why is None:
            keep.append(image)
        else:
            refused.append((image.name, why))
    return keep, refused


def _stored_uid(path: Path) -> str | None:
    import pydicom

    from apn_core.utils.files import open_regular

    try:  # a regular file only (a FIFO would block): else it is written anew
        with open_regular(path, "DICOM output") as fh:
            ds = pydicom.dcmread(fh, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
        return str(ds.SOPInstanceUID)
    except Exception:  # missing, damaged, not DICOM: rewrite it
        return None


def save_dataset(dataset, path: Path) -> None:
    """Write a highdicom/pydicom dataset to ``path`` atomically, as a DICOM file."""
    with atomic_path(path) as tmp:
        dataset.save_as(tmp, enforce_file_format=True)


def write_outputs(out: str | Path, name: str, source: str | Path, record: dict) -> DicomOutputs:
    """The SR and presentation state of one image's ``record`` on its ``source`` file,
    kept when already there (same UIDs) — see the module docstring."""
    from apn_core.dicom_out.gsps import auto_window, build_gsps, gsps_uids
    from apn_core.dicom_out.result import LandmarkResult
    from apn_core.dicom_out.source import read_source
    from apn_core.dicom_out.sr import build_sr, sr_uids

    ds = read_source(source)
    result = LandmarkResult.from_record(record)
    sr_file, pr_file = sr_path(out, name), pr_path(out, name)
    _, sr_uid = sr_uids(ds, result)
    _, pr_uid = gsps_uids(ds, result)
    done = _stored_uid(sr_file) == sr_uid and _stored_uid(pr_file) == pr_uid
    if not done:
        quiet = logging.getLogger("highdicom")
        if quiet.level == logging.NOTSET:  # its INFO lines name every module it copies
            quiet.setLevel(logging.WARNING)
        with warnings.catch_warnings():
            # a source's one-part PatientName is copied as it is, not "corrected"
            warnings.filterwarnings("ignore", message=".*unlikely to represent the intended")
            sr = build_sr(ds, result)
            pr = build_gsps(ds, result, auto_window(source))
        save_dataset(pr, pr_file)
        save_dataset(sr, sr_file)
    return DicomOutputs(sr_file, pr_file, str(ds.StudyInstanceUID), sr_uid, pr_uid, not done)


def write_for_job(out: str | Path, names: list[str], paths: dict[str, Path]) -> DicomReport:
    """SR + presentation state for each finished image of a predict job (``names``; the
    input file of each in ``paths``), from its record. Per-image problems are reported,
    not raised; a full disk stops with :class:`OSError`."""
    from apn_core.inference.outputs import DamagedRecord, read_record

    report = DicomReport()
    for name in names:
        try:
            record = read_record(Path(out), name)
            if record is None:
                raise DamagedRecord("no record")
            report.outputs[name] = write_outputs(out, name, paths[name], record)
        except (ApnError, DamagedRecord) as exc:
            problem = exc.problem if isinstance(exc, FileProblem) else str(exc)
            report.failed.append((name, f"no SR/presentation state: {problem}"))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # highdicom refusing a value of the source header (e.g. PatientSex "X"): this
            # image gets no SR, with the reason; nothing is "corrected" to make it pass
            log.debug("%s: SR not written", name, exc_info=True)
            report.failed.append(
                (name, f"no SR/presentation state: {type(exc).__name__}: {str(exc)[:200]}")
            )
    return report


def remove_stale(out: str | Path, names: list[str]) -> None:
    """Remove the SR/presentation state of results predicted again without ``--sr``."""
    for name in names:
        for path in (sr_path(out, name), pr_path(out, name)):
            path.unlink(missing_ok=True)
