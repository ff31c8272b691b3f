"""Coded concepts of the SR and presentation state: standard codes where DICOM has one,
a private coding scheme (``99NAPARIAPN``, PS3.3 8.2: designators beginning with ``99``
are private) where it has none — there is no standard code for a hip–knee–ankle angle
or a leg-length discrepancy, and inventing an SCT/LOINC number would be worse.

Standard codes used (pydicom's code dictionary has each of them): SCT femoral head
2812003, knee joint 49076000, ankle joint 70258002, lower limb 61685007, right 24028007,
left 7771000, present 52101004, absent 272519000, radiographic imaging procedure
363680008; DCM Center 111010, Value unknown 114010; UCUM ``deg``, ``mm``, ``1``.
"""

from __future__ import annotations

from pydicom.sr.coding import Code

SCHEME = "99NAPARIAPN"  # private coding scheme of napari-apn
SCHEME_NAME = "napari-apn local codes"


def local(value: str, meaning: str) -> Code:
    return Code(value, SCHEME, meaning)


# procedure and anatomy
RADIOGRAPHY = Code("363680008", "SCT", "Radiographic imaging procedure")
LOWER_LIMB = Code("61685007", "SCT", "Lower limb")
RIGHT, LEFT = Code("24028007", "SCT", "Right"), Code("7771000", "SCT", "Left")
ANATOMY = {
    "femur": Code("2812003", "SCT", "Femoral head"),
    "knee": Code("49076000", "SCT", "Knee joint"),
    "ankle": Code("70258002", "SCT", "Ankle joint"),
}
CENTER = Code("111010", "DCM", "Center")
PRESENT, ABSENT = Code("52101004", "SCT", "Present"), Code("272519000", "SCT", "Absent")
VALUE_UNKNOWN = Code("114010", "DCM", "Value unknown")

# units (UCUM)
DEGREE = Code("deg", "UCUM", "degree")
MILLIMETRE = Code("mm", "UCUM", "millimeter")
NO_UNITS = Code("1", "UCUM", "no units")

# what napari-apn reports (no standard code)
LANDMARK = local("LANDMARK", "Anatomical landmark (napari-apn)")
CONFIDENCE = local("CONFIDENCE", "Landmark confidence")
PRESENCE = local("PRESENCE", "Landmark presence")
REVIEW = local("REVIEW", "Review status")
NEEDS_REVIEW = local("NEEDS_REVIEW", "Needs review")
NOT_FLAGGED = local("NOT_FLAGGED", "Not flagged for review")
REVIEW_REASON = local("REVIEW_REASON", "Review reason")
NOT_REPORTED = local("NOT_REPORTED", "Measurement not reported")
LEG = local("LEG", "Leg alignment")
BOTH_LEGS = local("BOTH_LEGS", "Leg-length comparison")
IMAGE_REVIEW = local("IMAGE_REVIEW", "Image review")

# measurements: key of apn_core.measurements.alignment → (concept, unit)
MEASUREMENTS = {
    "hka_deg": (
        local("HKA", "Hip-knee-ankle angle, deviation from straight (varus positive)"),
        DEGREE,
    ),
    "mad_mm": (local("MAD", "Mechanical axis deviation (varus positive)"), MILLIMETRE),
    "length_mm": (local("MECH_LENGTH", "Mechanical leg length"), MILLIMETRE),
    "femur_mm": (local("FEMUR_LENGTH", "Femoral mechanical length"), MILLIMETRE),
    "tibia_mm": (local("TIBIA_LENGTH", "Tibial mechanical length"), MILLIMETRE),
    "lld_mm": (local("LLD", "Leg-length discrepancy (right minus left)"), MILLIMETRE),
}
