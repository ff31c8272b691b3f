"""Which images a DICOMweb query names: studies by UID, or studies by date and modality.

Within a study only image series count: series whose modality holds no radiograph (SR,
PR, KO, SEG, ...) are skipped, so the SRs and presentation states this tool stored
earlier are never taken for inputs. A query must name something (a study, a date or a
modality): an empty one would retrieve the whole archive. ``limit`` caps the number of
images; reaching it is reported, never silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from apn_core.dicomweb.server import PacsError, describe, redacted

NOT_IMAGES = frozenset(
    {"SR", "PR", "KO", "SEG", "REG", "DOC", "RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD"}
    | {"PLAN", "FID", "AU", "ECG", "HD", "RWV", "MPR"}
)
DATE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")
UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@dataclass(frozen=True)
class Query:
    """studies: Study Instance UIDs; study_date: ``YYYYMMDD`` or a range ``A-B`` (either
    end may be left open); modality: e.g. ``DX`` (matches ModalitiesInStudy and the
    series' Modality); limit: at most this many images."""

    studies: tuple[str, ...] = ()
    study_date: str | None = None
    modality: str | None = None
    limit: int = 1000

    def check(self) -> None:
        if not (self.studies or self.study_date or self.modality):
            raise PacsError(
                "a DICOMweb query needs --study UID, --study-date or --modality "
                "(an empty query would retrieve the whole archive)"
            )
        for uid in self.studies:
            if not UID.match(uid) or len(uid) > 64:
                raise PacsError(f"--study {uid!r}: not a DICOM UID (digits and dots)")
        if self.study_date is not None and (
            not DATE.match(self.study_date) or self.study_date in ("", "-")
        ):
            raise PacsError(
                f"--study-date {self.study_date!r}: use YYYYMMDD or a range YYYYMMDD-YYYYMMDD"
            )


@dataclass(frozen=True)
class Instance:
    study: str
    series: str
    sop: str


def _value(item: dict, tag: str) -> str | None:
    values = (item.get(tag) or {}).get("Value") or []
    return str(values[0]) if values else None


STUDY, SERIES, SOP, MODALITY = "0020000D", "0020000E", "00080018", "00080060"
PAGE = 500
MAX_PAGES = 1000


def _search(search, key: str, **kwargs) -> list[dict]:
    """Every match of a QIDO-RS search, page by page (``limit``/``offset``), stopping at a
    page that is short or brings nothing new: a server that ignores ``offset`` (some do)
    would otherwise send its first page forever (dicomweb-client's ``get_remaining`` loops)."""
    seen: dict[str, dict] = {}
    for page in range(MAX_PAGES):
        items = search(limit=PAGE, offset=page * PAGE, **kwargs) or []
        new = {uid: item for item in items if (uid := _value(item, key)) and uid not in seen}
        seen.update(new)
        if len(items) < PAGE or not new:
            break
    return list(seen.values())


def find_instances(client, query: Query) -> tuple[list[Instance], bool]:
    """The image instances ``query`` names (study, series, SOP Instance UIDs), and whether
    ``limit`` cut the list short. :class:`PacsError` when the server fails a search."""
    query.check()
    try:
        studies = list(query.studies)
        if not studies:
            filters = {}
            if query.study_date:
                filters["StudyDate"] = query.study_date
            if query.modality:
                filters["ModalitiesInStudy"] = query.modality
            found = _search(client.search_for_studies, STUDY, search_filters=filters)
            studies = [uid for item in found if (uid := _value(item, STUDY))]
        instances: list[Instance] = []
        for study in dict.fromkeys(studies):
            filters = {"Modality": query.modality} if query.modality else {}
            for series in _search(
                client.search_for_series, SERIES, study_instance_uid=study, search_filters=filters
            ):
                modality, series_uid = _value(series, MODALITY), _value(series, SERIES)
                if series_uid is None or (modality or "").upper() in NOT_IMAGES:
                    continue
                for item in _search(
                    client.search_for_instances,
                    SOP,
                    study_instance_uid=study,
                    series_instance_uid=series_uid,
                ):
                    if (sop := _value(item, SOP)) is not None:
                        instances.append(Instance(study, series_uid, sop))
                        if len(instances) > query.limit:
                            return instances[: query.limit], True
    except PacsError:
        raise
    except Exception as exc:  # requests' HTTP and connection errors, a malformed answer
        raise PacsError(f"{redacted(client.base_url)}: search failed ({describe(exc)})") from None
    return instances, False
