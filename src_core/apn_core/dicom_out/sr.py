"""A DICOM Comprehensive 3D SR holding a TID 1500 Measurement Report of one image.

Content (all under the report's "Imaging Measurements" container):

- one group per landmark, tracked by its name (``femur_right``):
  *present* → TID 1410 planar ROI: an Image Region SCOORD POINT at the landmark in the
  source image's pixel coordinates (apn (x, y) + 0.5, :mod:`apn_core.dicom_out.result`),
  finding site (femoral head / knee joint / ankle joint, right or left), geometric
  purpose "Center"; *absent* → TID 1501 group with no coordinates at all. Both carry the
  confidence (NUM, UCUM ``1``), "Landmark presence" = Present/Absent, "Review status" =
  Needs review / Not flagged, and, when flagged, the reason (TEXT);
- one TID 1501 group per leg (finding site lower limb, right/left): HKA (``deg``), MAD,
  mechanical length, femur and tibia (``mm``), each a NUM — or, when it uses a flagged
  or absent landmark, *no number*: a "Value unknown" evaluation of that measurement and
  a TEXT saying why (``knee_right needs review``), as ``measurements.csv`` leaves the
  cell empty with a note;
- one group for the leg-length discrepancy (right − left, mm), and one for the image's
  own review (e.g. a pixel spacing that makes every length implausible).

Normal ranges are written where the README cites one: HKA 1.3° ± 2° varus (Moreland,
Bassett & Hanker 1987), as the range −0.7° to 3.3° (mean ± 1 SD, as cited); leg-length
discrepancy as the cited description only (Knutson 2005: 5.2 ± 4.1 mm, an absolute
difference, so no signed limits are implied). Every group names the algorithm (TID
4019: model, napari-apn version, weights and calibration SHA-256, options).

The document is marked unverified and preliminary (no person has checked it), its
content qualification is RESEARCH, and its character set UTF-8 (``ISO_IR 192``): review
reasons hold "≤", and names copied from a Latin-1 or Japanese source keep their letters.
"""

from __future__ import annotations

import math

from apn_core.dicom_out import codes
from apn_core.dicom_out.result import LandmarkResult, to_dicom_xy
from apn_core.dicom_out.source import derived_uid, evidence

SR_SERIES_NUMBER = 9901
CHARSET = "ISO_IR 192"  # UTF-8: review reasons say "≤"; copied names keep their letters
SERIES_DESCRIPTION = "napari-apn leg alignment (SR)"
LEG_KEYS = ("hka_deg", "mad_mm", "length_mm", "femur_mm", "tibia_mm")
NORMAL_RANGES = {
    # key: (lower, upper, description, authority) — only what the README cites
    "hka_deg": (
        -0.7,
        3.3,
        "mechanical axis 1.3 deg +/- 2 deg varus (mean +/- SD of normal adult knees); "
        "positive = varus",
        "Moreland JR, Bassett LW, Hanker GJ. Radiographic analysis of the axial alignment "
        "of the lower extremity. J Bone Joint Surg Am 1987;69(5):745-9",
    ),
    "lld_mm": (
        None,
        None,
        "anatomic leg-length inequality 5.2 +/- 4.1 mm (mean +/- SD of the absolute "
        "difference in a normal population)",
        "Knutson GA. Anatomic and functional leg-length inequality: a review and "
        "recommendation for clinical decision-making. Chiropr Osteopat 2005;13:11",
    ),
}


def sr_uids(source, result: LandmarkResult) -> tuple[str, str]:
    """(SeriesInstanceUID, SOPInstanceUID) of the SR of ``result`` on ``source``."""
    key = result.algorithm.key
    return (
        derived_uid("sr-series", str(source.StudyInstanceUID), key),
        derived_uid("sr", str(source.SOPInstanceUID), key),
    )


def build_sr(source, result: LandmarkResult):
    """The SR (a highdicom ``Comprehensive3DSR``) of ``result`` on the image whose header
    is ``source`` (:func:`apn_core.dicom_out.source.read_source`)."""
    import highdicom as hd

    src = evidence(source)
    algorithm = hd.sr.AlgorithmIdentification(
        name=result.algorithm.name,
        version=result.algorithm.software_version,
        parameters=result.algorithm.parameters(),
    )
    groups = [_landmark_group(hd, src, result, i, algorithm) for i in range(len(result.names))]
    groups += [_leg_group(hd, src, result, side, algorithm) for side in ("right", "left")]
    groups.append(_lld_group(hd, src, result, algorithm))
    groups.append(_image_group(hd, src, result, algorithm))
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=derived_uid("device", "napari-apn"),
        name="napari-apn",
        manufacturer_name="napari-apn",
        model_name=result.algorithm.model[:64],
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_device_context=hd.sr.ObserverContext(
                observer_type=hd.sr.CodedConcept("121007", "DCM", "Device"),
                observer_identifying_attributes=device,
            )
        ),
        procedure_reported=codes.RADIOGRAPHY,
        imaging_measurements=groups,
    )
    series_uid, sop_uid = sr_uids(source, result)
    return hd.sr.Comprehensive3DSR(
        evidence=[src],
        content=report[0],
        series_instance_uid=series_uid,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=_instance_number(source),
        manufacturer="napari-apn",
        manufacturer_model_name=result.algorithm.model[:64],
        software_versions=result.algorithm.software_version,
        series_description=SERIES_DESCRIPTION,
        is_complete=True,
        is_final=False,
        is_verified=False,
        content_qualification="RESEARCH",
        specific_character_set=CHARSET,
        coding_schemes=[
            hd.coding_schemes.CodingSchemeIdentificationItem(
                designator=codes.SCHEME, name=codes.SCHEME_NAME
            )
        ],
    )


def _instance_number(source) -> int:
    try:
        return max(1, int(source.get("InstanceNumber") or 1))
    except (TypeError, ValueError):
        return 1


def _review(hd, flagged: bool):
    return hd.sr.QualitativeEvaluation(
        codes.REVIEW, codes.NEEDS_REVIEW if flagged else codes.NOT_FLAGGED
    )


def _text(hd, group, name, value: str) -> None:
    """Append a TEXT item (a review reason, a note) to a measurement group's container."""
    group[0].ContentSequence.append(
        hd.sr.TextContentItem(
            name=name,
            value=value[:1024] or "-",
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
        )
    )


def _site(name: str):
    """(finding type, finding site) of a landmark name ``<part>_<side>``."""
    import highdicom as hd

    part, _, side = name.rpartition("_")
    anatomy = codes.ANATOMY.get(part)
    laterality = {"right": codes.RIGHT, "left": codes.LEFT}.get(side)
    if anatomy is None:
        return codes.LANDMARK, None
    return anatomy, hd.sr.FindingSite(anatomy, laterality=laterality)


def _landmark_group(hd, src, result: LandmarkResult, i: int, algorithm):
    name = result.names[i]
    tracking = hd.sr.TrackingIdentifier(
        uid=derived_uid("track", str(src.SOPInstanceUID), result.algorithm.key, name),
        identifier=name,
    )
    finding, site = _site(name)
    present = bool(result.present[i])
    measurements = []
    if math.isfinite(result.confidence[i]):
        measurements.append(
            hd.sr.Measurement(codes.CONFIDENCE, float(result.confidence[i]), codes.NO_UNITS)
        )
    flagged = bool(result.needs_review[i])
    evaluations = [
        hd.sr.QualitativeEvaluation(codes.PRESENCE, codes.PRESENT if present else codes.ABSENT),
        _review(hd, flagged),
    ]
    common = {
        "tracking_identifier": tracking,
        "finding_type": finding,
        "finding_sites": [site] if site is not None else None,
        "algorithm_id": algorithm,
        "measurements": measurements or None,
        "qualitative_evaluations": evaluations,
    }
    if present:
        region = hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.POINT,
            graphic_data=to_dicom_xy(result.xy[i]).reshape(1, 2),
            source_image=hd.sr.SourceImageForRegion.from_source_image(src),
        )
        group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            referenced_region=region, geometric_purpose=codes.CENTER, **common
        )
    else:
        group = hd.sr.MeasurementsAndQualitativeEvaluations(
            source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(src)],
            **common,
        )
    if flagged:
        _text(hd, group, codes.REVIEW_REASON, result.reasons[i])
    return group


def _measurement(hd, key: str, value: float):
    concept, unit = codes.MEASUREMENTS[key]
    properties = None
    if key in NORMAL_RANGES:
        lower, upper, description, authority = NORMAL_RANGES[key]
        limits = [
            hd.sr.NumContentItem(
                name=limit_name,
                value=limit,
                unit=unit,
                relationship_type=hd.sr.RelationshipTypeValues.HAS_PROPERTIES,
            )
            for limit_name, limit in (
                (hd.sr.CodedConcept("385524004", "SCT", "Normal Range Lower Limit"), lower),
                (hd.sr.CodedConcept("371933006", "SCT", "Normal Range Upper Limit"), upper),
            )
            if limit is not None
        ]
        properties = hd.sr.MeasurementProperties(
            normal_range_properties=hd.sr.NormalRangeProperties(
                values=limits, description=description, authority=authority
            )
        )
    return hd.sr.Measurement(concept, float(value), unit, properties=properties)


def _measured_group(hd, src, result, algorithm, *, ident, finding, site, values, flagged):
    """A TID 1501 group: a NUM for each finite value, "Value unknown" + why for the rest."""
    measurements, missing = [], []
    for key, (value, note) in values.items():
        if value is not None and math.isfinite(value):
            measurements.append(_measurement(hd, key, value))
        else:
            missing.append((key, note or "not computable"))
    evaluations = [_review(hd, flagged)] + [
        hd.sr.QualitativeEvaluation(codes.MEASUREMENTS[key][0], codes.VALUE_UNKNOWN)
        for key, _ in missing
    ]
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=derived_uid("track", str(src.SOPInstanceUID), result.algorithm.key, ident),
            identifier=ident,
        ),
        finding_type=finding,
        finding_sites=[site] if site is not None else None,
        algorithm_id=algorithm,
        measurements=measurements or None,
        qualitative_evaluations=evaluations,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(src)],
    )
    for key, note in missing:
        _text(hd, group, codes.NOT_REPORTED, f"{codes.MEASUREMENTS[key][0].meaning}: {note}")
    return group


def _leg_landmarks_flagged(result: LandmarkResult, side: str) -> bool:
    return any(
        result.needs_review[i]
        for i, n in enumerate(result.names)
        if n in (f"femur_{side}", f"knee_{side}", f"ankle_{side}")
    )


def _leg_group(hd, src, result: LandmarkResult, side: str, algorithm):
    leg = result.alignment.get(side) if isinstance(result.alignment.get(side), dict) else {}
    values = {k: (leg.get(k), result.notes.get(f"{side}.{k}")) for k in LEG_KEYS}
    return _measured_group(
        hd,
        src,
        result,
        algorithm,
        ident=f"{side} leg",
        finding=codes.LOWER_LIMB,
        site=hd.sr.FindingSite(codes.LOWER_LIMB, codes.RIGHT if side == "right" else codes.LEFT),
        values=values,
        flagged=_leg_landmarks_flagged(result, side) or bool(result.image_reasons),
    )


def _lld_group(hd, src, result: LandmarkResult, algorithm):
    return _measured_group(
        hd,
        src,
        result,
        algorithm,
        ident="leg-length discrepancy",
        finding=codes.BOTH_LEGS,
        site=None,
        values={"lld_mm": (result.alignment.get("lld_mm"), result.notes.get("lld_mm"))},
        flagged=any(_leg_landmarks_flagged(result, s) for s in ("right", "left"))
        or bool(result.image_reasons),
    )


def _image_group(hd, src, result: LandmarkResult, algorithm):
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=derived_uid("track", str(src.SOPInstanceUID), result.algorithm.key, "image"),
            identifier="image review",
        ),
        finding_type=codes.IMAGE_REVIEW,
        algorithm_id=algorithm,
        qualitative_evaluations=[_review(hd, result.image_needs_review)],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(src)],
    )
    for reason in result.image_reasons:
        _text(hd, group, codes.REVIEW_REASON, reason)
    return group
