"""Leg-alignment measurements from the six landmarks, per leg, in degrees and mm.

Conventions (documented in the README):

- **HKA angle** (hip–knee–ankle): the angle at the knee between the femoral mechanical
  axis (knee → femoral head centre) and the tibial mechanical axis (knee → ankle centre),
  reported as a deviation from straight: ``hka_deg = 180° − angle``, **positive = varus**
  (the knee lies lateral of the hip–ankle line), negative = valgus. 0 = neutral.
- **MAD** (mechanical axis deviation): perpendicular distance of the knee centre from the
  hip–ankle line, mm, with the same sign (positive = knee lateral = varus).
- **Mechanical leg length**: femoral head centre to ankle centre, mm.
- **Leg-length discrepancy**: right − left mechanical length, mm.

Patient's right is on the image's left, so "lateral" is −x for the right leg and +x for
the left leg. Positions are image (x, y) pixels; ``spacing`` (row_mm, col_mm) converts
them to mm before any angle is taken (non-square pixels would otherwise skew angles).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet

LEGS = {"right": -1.0, "left": 1.0}  # lateral direction along x


@dataclass(frozen=True)
class LegAlignment:
    side: str
    hka_deg: float  # NaN when a landmark is missing
    mad_mm: float
    length_mm: float
    femur_mm: float
    tibia_mm: float


def _mm(xy: np.ndarray, spacing: tuple[float, float]) -> np.ndarray:
    return np.asarray(xy, float) * np.array([spacing[1], spacing[0]])


def leg_alignment(hip, knee, ankle, spacing: tuple[float, float], side: str) -> LegAlignment:
    """Measurements of one leg from image-pixel (x, y) positions (NaN where missing)."""
    h, k, a = (_mm(p, spacing) for p in (hip, knee, ankle))
    lateral = LEGS[side]
    femur, tibia = float(np.linalg.norm(h - k)), float(np.linalg.norm(a - k))
    length = float(np.linalg.norm(a - h))
    if (
        not (np.isfinite(h).all() and np.isfinite(k).all() and np.isfinite(a).all())
        or min(femur, tibia, length) == 0
    ):
        nan = math.nan
        return LegAlignment(side, nan, nan, length, femur, tibia)
    u, v = h - k, a - k
    angle = math.degrees(math.acos(float(np.clip(np.dot(u, v) / (femur * tibia), -1.0, 1.0))))
    axis = (a - h) / length
    offset = (k - h) - np.dot(k - h, axis) * axis  # knee's perpendicular offset from the H–A line
    mad = math.copysign(float(np.linalg.norm(offset)), offset[0] * lateral)
    hka = math.copysign(180.0 - angle, mad)
    return LegAlignment(side, hka, mad, length, femur, tibia)


def alignment(
    xy: np.ndarray, spacing: tuple[float, float], landmarks: LandmarkSet = DEFAULT_LANDMARKS
) -> dict:
    """Both legs and the leg-length discrepancy from ``(K, 2)`` image pixels of the default set."""
    idx = landmarks.index
    legs = {
        side: leg_alignment(
            xy[idx(f"femur_{side}")],
            xy[idx(f"knee_{side}")],
            xy[idx(f"ankle_{side}")],
            spacing,
            side,
        )
        for side in LEGS
    }
    lld = legs["right"].length_mm - legs["left"].length_mm
    return {"right": asdict(legs["right"]), "left": asdict(legs["left"]), "lld_mm": lld}
