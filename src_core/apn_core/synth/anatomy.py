"""Random but plausible lower-limb geometry, in millimetres, with exact landmarks.

Frame: x to the image's right (the patient's left), y down, origin at the pelvis centre.
Each leg is built from its hip (femoral head centre H), knee joint centre K and ankle
joint centre A so that the hip–knee–ankle angle equals the sampled varus/valgus angle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SIDES = ("right", "left")  # patient's right leg is on the image's left (x < 0)


def _rot(v: np.ndarray, deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


@dataclass
class Leg:
    """One leg. ``lateral`` is −1 for the right leg (image left), +1 for the left one.

    ``hka_deviation_deg``: 180° minus the hip–knee–ankle angle; positive = varus (knee
    lateral of the hip–ankle line), negative = valgus.
    """

    side: str
    lateral: float
    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray
    head_radius: float
    hka_deviation_deg: float
    femur_length: float
    tibia_length: float
    neck_angle_deg: float


@dataclass
class Anatomy:
    """A sampled patient: two legs, pelvis and body size (``scale`` ≈ 1 for an adult)."""

    scale: float
    pelvic_tilt_deg: float
    legs: dict[str, Leg]
    soft_tissue: float  # thigh radius multiplier (body habitus)
    extras: dict = field(default_factory=dict)

    def landmarks_mm(self) -> np.ndarray:
        """``(6, 2)`` (x, y) mm in the default landmark order (femur, knee, ankle × R, L)."""
        return np.array(
            [getattr(self.legs[s], part) for part in ("hip", "knee", "ankle") for s in SIDES]
        )


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw hip width, limb lengths, HKA angles (±12°), pelvic tilt and leg-length difference."""
    k = float(rng.uniform(0.88, 1.12))
    tilt = float(rng.normal(0.0, 1.5))
    hip_width = 178.0 * k + float(rng.normal(0.0, 7.0))
    femur = 440.0 * k + float(rng.normal(0.0, 15.0))
    tibia = femur * float(rng.uniform(0.78, 0.88))
    lld = float(rng.uniform(-20.0, 20.0)) if rng.random() < 0.5 else 0.0
    ankle_offset = float(rng.normal(22.0, 12.0))
    legs = {}
    for side, lateral in (("right", -1.0), ("left", 1.0)):
        hip = _rot(np.array([lateral * hip_width / 2.0, 0.0]), tilt)
        share = lld / 2.0 * (1.0 if side == "right" else -1.0)
        lf = femur + 0.6 * share + float(rng.normal(0.0, 2.0))
        lt = tibia + 0.4 * share + float(rng.normal(0.0, 2.0))
        if rng.random() < 0.35:
            dev = float(rng.uniform(-12.0, 12.0))
        else:
            dev = float(np.clip(rng.normal(1.0, 3.0), -12.0, 12.0))
        m = float(np.clip(ankle_offset + rng.normal(0.0, 6.0), -15.0, 70.0))
        legs[side] = _build_leg(side, lateral, hip, lf, lt, dev, m, rng, k)
    _separate_ankles(legs)
    return Anatomy(
        scale=k, pelvic_tilt_deg=tilt, legs=legs, soft_tissue=float(rng.uniform(0.8, 1.25))
    )


def _build_leg(side, lateral, hip, lf, lt, dev, medial_offset, rng, k) -> Leg:
    """Place K and A so that |HK| = lf, |KA| = lt and the angle at K is 180° − dev."""
    gamma = np.deg2rad(180.0 - dev)
    d = float(np.sqrt(lf**2 + lt**2 - 2 * lf * lt * np.cos(gamma)))
    ankle = hip + np.array([-lateral * medial_offset, np.sqrt(d**2 - medial_offset**2)])
    u = (ankle - hip) / d
    alpha = np.arccos(np.clip((lf**2 + d**2 - lt**2) / (2 * lf * d), -1.0, 1.0))
    lat = np.array([lateral, 0.0])
    n = lat - np.dot(lat, u) * u
    n /= np.linalg.norm(n)
    knee = hip + lf * (np.cos(alpha) * u + np.sign(dev) * np.sin(alpha) * n)
    return Leg(
        side=side,
        lateral=lateral,
        hip=hip,
        knee=knee,
        ankle=ankle,
        head_radius=24.0 * k + float(rng.normal(0.0, 1.2)),
        hka_deviation_deg=dev,
        femur_length=lf,
        tibia_length=lt,
        neck_angle_deg=float(rng.uniform(125.0, 138.0)),
    )


def _separate_ankles(legs: dict[str, Leg], min_gap: float = 70.0) -> None:
    """Keep the ankles apart (feet do not overlap) by swinging each leg about its hip."""
    r, lft = legs["right"], legs["left"]
    gap = lft.ankle[0] - r.ankle[0]
    if gap >= min_gap:
        return
    for leg in (r, lft):
        shift = (min_gap - gap) / 2.0
        swing = np.rad2deg(np.arctan2(shift, leg.ankle[1] - leg.hip[1])) * (-leg.lateral)
        leg.knee = leg.hip + _rot(leg.knee - leg.hip, swing)
        leg.ankle = leg.hip + _rot(leg.ankle - leg.hip, swing)
