"""Two-leg training images made from one-leg films.

Real long-leg films are often cut to one leg (the OAI halves in ``../shared/realdata`` are
all right legs), yet the model must also read the usual two-leg film. A composite puts one
film's leg on the image's left (the patient's right) and another film's leg, mirrored when
needed, on the image's right (the patient's left), as a bilateral film shows them:

- the second leg is scaled so that its hip–ankle length matches the first's within a few
  per cent (a person's two legs differ by ~5 mm, Knutson 2005), and shifted so that its
  hip sits at the first one's level (± a few mm of pelvic obliquity);
- its intensities are mapped onto the first film's (1st–99th percentile, linearly), as one
  exposure would show both;
- the halves meet at the midline edge each half was cut at; rows the shifted half does not
  cover are filled with its darkest value (the letterbox bars of the source films).

Landmarks move with the pixels; a landmark pushed off the canvas is absent. The composite
keeps the first film's pixel spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apn_core.annotations.labels import ImageLabels
from apn_core.landmarks import LandmarkSet

SIDES = ("right", "left")
PARTS = ("femur", "knee", "ankle")  # a leg's landmarks: f"{part}_{side}"
LENGTH_SD = 0.02  # relative SD of the second leg's length
HIP_SD_MM = 4.0  # SD of the hips' height difference


@dataclass
class OneLeg:
    """A film showing one leg: pixels ``(H, W)``, its labels, spacing (row, col) mm/px."""

    pixels: np.ndarray
    labels: ImageLabels
    spacing: tuple[float, float]


def missing_leg_landmarks(landmarks: LandmarkSet) -> list[str]:
    """The leg landmarks (``femur_right`` … ``ankle_left``) a composite needs that
    ``landmarks`` lacks: legs are told apart, levelled and scaled by them."""
    return [f"{p}_{s}" for s in SIDES for p in PARTS if f"{p}_{s}" not in landmarks]


def leg_side(labels: ImageLabels, landmarks: LandmarkSet) -> str | None:
    """The one side whose landmarks are present (None if both or neither)."""
    have = [s for s in SIDES if any(labels.present[landmarks.index(f"{p}_{s}")] for p in PARTS)]
    return have[0] if len(have) == 1 else None


def _mirror(leg: OneLeg, landmarks: LandmarkSet) -> OneLeg:
    """The film flipped left–right, its landmarks swapped to the other side."""
    w = leg.pixels.shape[1]
    lab = leg.labels
    perm = landmarks.flip_permutation()
    xy = lab.xy[perm].copy()
    xy[:, 0] = (w - 1) - xy[:, 0]
    flipped = ImageLabels(lab.image, xy, lab.annotated[perm], lab.occluded[perm], lab.spacing)
    return OneLeg(leg.pixels[:, ::-1], flipped, leg.spacing)


def _length(labels: ImageLabels, landmarks: LandmarkSet, side: str) -> float | None:
    hip, ankle = (labels.xy[landmarks.index(f"{p}_{side}")] for p in ("femur", "ankle"))
    if not (np.all(np.isfinite(hip)) and np.all(np.isfinite(ankle))):
        return None
    return float(np.hypot(*(hip - ankle)))


def _resize(pixels: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    h, w = pixels.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(
        Image.fromarray(pixels.astype(np.float32), mode="F").resize(size, Image.BILINEAR)
    )


def compose(a: OneLeg, b: OneLeg, landmarks: LandmarkSet, rng: np.random.Generator, image: str):
    """A two-leg film from two one-leg films; returns ``(pixels float32, ImageLabels)``.

    ``a`` becomes the patient's right leg (image left), ``b`` the left (image right); either
    is mirrored first if it shows the other side. ``image`` names the composite in its labels.
    """
    sa, sb = leg_side(a.labels, landmarks), leg_side(b.labels, landmarks)
    if sa is None or sb is None:
        raise ValueError("each film must show exactly one leg")
    if sa == "left":
        a = _mirror(a, landmarks)
    if sb == "right":
        b = _mirror(b, landmarks)
    la, lb = _length(a.labels, landmarks, "right"), _length(b.labels, landmarks, "left")
    scale = (la / lb if la and lb else 1.0) * float(np.exp(rng.normal(0.0, LENGTH_SD)))
    scale *= b.spacing[0] / a.spacing[0]  # b's pixels in a's spacing
    pb = _resize(b.pixels, scale)
    # the sizes are whole pixels: the scale each axis really got
    sx, sy = pb.shape[1] / b.pixels.shape[1], pb.shape[0] / b.pixels.shape[0]
    # b's intensities onto a's range
    a_lo, a_hi = np.percentile(a.pixels, (1, 99))
    b_lo, b_hi = np.percentile(pb, (1, 99))
    pb = (pb - b_lo) * ((a_hi - a_lo) / max(b_hi - b_lo, 1e-6)) + a_lo
    pb = np.clip(pb, float(a.pixels.min()), float(a.pixels.max()))
    # hips level (± obliquity)
    hip_a = a.labels.xy[landmarks.index("femur_right"), 1]
    hip_b = (b.labels.xy[landmarks.index("femur_left"), 1] + 0.5) * sy - 0.5
    shift = 0.0
    if np.isfinite(hip_a) and np.isfinite(hip_b):
        shift = hip_a - hip_b + rng.normal(0.0, HIP_SD_MM / a.spacing[0])
    shift = round(shift)
    h, wa = a.pixels.shape
    wb = pb.shape[1]
    out = np.empty((h, wa + wb), dtype=np.float32)
    out[:, :wa] = a.pixels
    out[:, wa:] = float(pb.min())
    src0, dst0 = max(0, -shift), max(0, shift)
    rows = min(pb.shape[0] - src0, h - dst0)
    if rows > 0:
        out[dst0 : dst0 + rows, wa:] = pb[src0 : src0 + rows]
    k = len(landmarks)
    xy = np.full((k, 2), np.nan)
    annotated = np.zeros(k, dtype=bool)
    occluded = np.zeros(k, dtype=bool)
    for side, leg, dx, dy, (kx, ky) in (
        ("right", a, 0, 0, (1, 1)),
        ("left", b, wa, shift, (sx, sy)),
    ):
        for p in PARTS:
            i = landmarks.index(f"{p}_{side}")
            annotated[i] = leg.labels.annotated[i]
            occluded[i] = leg.labels.occluded[i]
            if leg.labels.present[i]:
                # pixel centres scale about the half-pixel corner
                x = (leg.labels.xy[i, 0] + 0.5) * kx - 0.5 + dx
                y = (leg.labels.xy[i, 1] + 0.5) * ky - 0.5 + dy
                if -0.5 <= y <= h - 0.5:
                    xy[i] = (x, y)
    return out, ImageLabels(image, xy, annotated, occluded, a.labels.spacing)
