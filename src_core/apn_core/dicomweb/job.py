"""Retrieve the images of a query into the output folder, and store SR/presentation
states back — each step resumable and without duplicates:

- an image already in ``OUT/retrieved/`` (written atomically, so complete) is not
  downloaded again, and its prediction is kept by ``apn predict``'s own re-run rule;
- before an object is stored, the server is asked for its SOP Instance UID in its study
  (QIDO-RS); the UIDs are derived from the source image, model and options
  (:mod:`apn_core.dicom_out.source`), so a re-run — even from an empty output folder —
  finds what an earlier run stored and sends nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from apn_core.dicomweb.query import SOP, UID, Instance, _value
from apn_core.dicomweb.server import PacsError, describe
from apn_core.utils.atomic import atomic_path

log = logging.getLogger(__name__)
RETRIEVED = "retrieved"


@dataclass
class PacsSummary:
    """What the round trip did with the server (the prediction has its own summary)."""

    url: str
    found: int = 0
    limited: bool = False
    retrieved: int = 0
    cached: int = 0
    stored: list[str] = field(default_factory=list)  # SOP Instance UIDs sent now
    already: list[str] = field(default_factory=list)  # found on the server: not sent
    failed: list[tuple[str, str]] = field(default_factory=list)  # (what, why)

    def lines(self) -> list[str]:
        limit = " (the --dicomweb-limit was reached: more images match)" if self.limited else ""
        out = [
            f"{self.url}: {self.found} image(s) matched{limit}; {self.retrieved} retrieved, "
            f"{self.cached} already retrieved; {len(self.stored)} object(s) stored, "
            f"{len(self.already)} already on the server"
        ]
        return out + [f"  failed: {what}: {why}" for what, why in self.failed]


def retrieve(client, instances: list[Instance], folder: Path, summary: PacsSummary) -> list[Path]:
    """Each instance as ``folder/<SOP Instance UID>.dcm`` (kept when already there)."""
    paths = []
    for inst in instances:
        if not all(UID.match(u) for u in (inst.study, inst.series, inst.sop)):
            summary.failed.append((inst.sop[:64], "the server named it with an invalid UID"))
            continue
        path = folder / f"{inst.sop}.dcm"
        if path.is_file():
            summary.cached += 1
            paths.append(path)
            continue
        try:
            ds = client.retrieve_instance(inst.study, inst.series, inst.sop)
        except Exception as exc:  # HTTP/connection errors, an unparsable answer
            summary.failed.append((inst.sop, f"retrieve failed ({describe(exc)})"))
            continue
        if str(ds.get("SOPInstanceUID", "")) != inst.sop:
            summary.failed.append((inst.sop, "the server sent another instance"))
            continue
        with atomic_path(path) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
        summary.retrieved += 1
        paths.append(path)
    return paths


def on_server(client, study: str, sop: str) -> bool:
    """Whether the server holds instance ``sop`` in ``study`` (QIDO-RS)."""
    found = client.search_for_instances(
        study_instance_uid=study, search_filters={"SOPInstanceUID": sop}
    )
    return any(_value(item, SOP) == sop for item in found)


def store(client, files: list[Path], summary: PacsSummary) -> None:
    """STOW-RS each file into its study unless the server already holds it."""
    import pydicom

    for path in files:
        try:
            ds = pydicom.dcmread(path)
            study, sop = str(ds.StudyInstanceUID), str(ds.SOPInstanceUID)
        except Exception as exc:
            summary.failed.append((str(path), f"unreadable ({type(exc).__name__})"))
            continue
        try:
            if on_server(client, study, sop):
                summary.already.append(sop)
                continue
            response = client.store_instances([ds], study_instance_uid=study)
        except PacsError:
            raise
        except Exception as exc:
            summary.failed.append((path.name, f"store failed ({describe(exc)})"))
            continue
        failed = response.get("FailedSOPSequence") if response is not None else None
        if failed:
            reason = failed[0].get("FailureReason", "unknown")
            summary.failed.append((path.name, f"the server refused it (failure reason {reason})"))
        else:
            summary.stored.append(sop)
            log.debug("stored %s in study %s", path.name, study)
