"""A LabelMe file's shapes → the image's landmarks (:class:`ImageLabels`).

- A **point** (or **circle**: its centre) labelled with a landmark name is that landmark.
- **Polygons** labelled ``femur``/``tibia`` (optionally with a side: ``femur_right``,
  ``left tibia``, ``femur R``) are bone outlines; each leg's three centres are derived
  from them (:mod:`apn_core.outlines.derive`). Unsided outlines take their side from the
  anatomy (the femoral head is medial); two unsided femurs are told apart by position
  (the patient's right leg is on the image's left), and each tibia goes with the femur it
  lies under.
- A landmark given both as a point and by an outline keeps the point (drawn on purpose).
- Legs with no shapes at all: their landmarks are *absent* with ``other_side="absent"``
  (one-leg films: the other leg is not in the image), else *not annotated*.
Other shapes and labels are listed in the notes, never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from apn_core.annotations.labelme import LabelMeFile
from apn_core.annotations.labels import ImageLabels
from apn_core.landmarks import LandmarkSet
from apn_core.outlines.derive import LegLandmarks, derive_leg

SIDES = ("right", "left")
PARTS = ("femur", "knee", "ankle")  # landmark name = f"{part}_{side}"
_SIDE_WORDS = {"right": "right", "r": "right", "left": "left", "l": "left"}
_BONE = re.compile(r"^(?:(right|left|r|l)[ _-]?)?(femur|tibia)(?:[ _-]?(right|left|r|l))?$")


@dataclass
class Derivation:
    """What the import did for one image: the labels, the legs it derived, and notes."""

    labels: ImageLabels
    legs: list[LegLandmarks] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _bone(label: str) -> tuple[str, str | None] | None:
    m = _BONE.match(label.strip().lower())
    if not m:
        return None
    side = m.group(1) or m.group(3)
    return m.group(2), _SIDE_WORDS[side] if side else None


def _landmark_name(label: str, landmarks: LandmarkSet) -> str | None:
    key = re.sub(r"[\s-]+", "_", label.strip().lower())
    return key if key in landmarks else None


def _outlines(ann: LabelMeFile, notes: list[str]) -> list[tuple[str, str | None, np.ndarray]]:
    out = []
    for s in ann.shapes:
        bone = _bone(s.label)
        if bone is None:
            continue
        if s.shape_type != "polygon":
            notes.append(f"{s.label!r} is a {s.shape_type}, not a polygon outline: ignored")
            continue
        out.append((bone[0], bone[1], s.points))
    return out


def _pair_legs(
    outlines, notes: list[str]
) -> list[tuple[str | None, np.ndarray | None, np.ndarray | None]]:
    """Group outlines into legs: (side or None, femur or None, tibia or None)."""
    sided = {side: {"femur": None, "tibia": None} for side in SIDES}
    unsided = {"femur": [], "tibia": []}
    for bone, side, pts in outlines:
        if side is None:
            unsided[bone].append(pts)
        elif sided[side][bone] is not None:
            notes.append(f"two {bone} outlines labelled {side}: the second is ignored")
        else:
            sided[side][bone] = pts
    legs = [
        (s, b["femur"], b["tibia"])
        for s, b in sided.items()
        if b["femur"] is not None or b["tibia"] is not None
    ]
    femurs = sorted(unsided["femur"], key=lambda p: float(np.mean(p[:, 0])))
    tibias = list(unsided["tibia"])
    if len(femurs) > 2 or len(tibias) > 2:
        notes.append(
            f"{len(femurs)} unsided femur and {len(tibias)} tibia outlines: at most two legs are read"
        )
        femurs, tibias = femurs[:2], tibias[:2]
    pairs: list[list] = [[None, f, None] for f in femurs]
    for t in tibias:  # a tibia belongs to the femur whose condyles lie above its plateau
        tx = float(np.mean(t[t[:, 1] <= t[:, 1].min() + 0.1 * np.ptp(t[:, 1]), 0]))
        free = [p for p in pairs if p[2] is None]
        if free:
            best = min(
                free,
                key=lambda p: abs(
                    float(
                        np.mean(p[1][p[1][:, 1] >= p[1][:, 1].max() - 0.1 * np.ptp(p[1][:, 1]), 0])
                    )
                    - tx
                ),
            )
            best[2] = t
        else:
            pairs.append([None, None, t])
    if len(pairs) == 2:  # two legs: the one on the image's left is the patient's right
        pairs.sort(key=lambda p: float(np.mean((p[1] if p[1] is not None else p[2])[:, 0])))
        pairs[0][0], pairs[1][0] = "right", "left"
    legs += [tuple(p) for p in pairs]
    return legs


def labels_from_labelme(
    ann: LabelMeFile,
    image: str,
    landmarks: LandmarkSet,
    spacing_mm: float | None,
    other_side: str = "not-annotated",
) -> Derivation:
    """The landmarks of one LabelMe file (see the module docstring).

    image: the image's path relative to the labelled folder (goes into the labels).
    spacing_mm: mm per pixel (square), for the ankle's half joint space; None → a note.
    other_side: ``"absent"`` or ``"not-annotated"``, for legs without any shape.
    """
    k = len(landmarks)
    labels = ImageLabels.empty(image, k)
    result = Derivation(labels)
    notes = result.notes
    points: dict[str, np.ndarray] = {}
    for s in ann.shapes:
        name = _landmark_name(s.label, landmarks)
        if name is not None and s.shape_type in ("point", "circle"):
            if name in points:
                notes.append(f"{name} drawn twice: the first is used")
                continue
            points[name] = s.points[0]
        elif name is None and _bone(s.label) is None:
            notes.append(
                f"shape {s.label!r} ({s.shape_type}) is neither a landmark nor a femur/tibia outline: ignored"
            )
    derivable = all(f"{p}_{s}" in landmarks for p in PARTS for s in SIDES)
    outlines = _outlines(ann, notes)
    if outlines and not derivable:
        notes.append(
            "bone outlines need the landmark names femur_/knee_/ankle_ right/left: outlines ignored"
        )
        outlines = []
    seen_sides = set()
    for side, femur, tibia in _pair_legs(outlines, notes):
        leg = derive_leg(femur, tibia, spacing_mm, side)
        if side is not None and leg.side != side:
            notes.append(f"a leg labelled {side} is derived as {leg.side}: the label wins")
            leg.side = side
        if leg.side in seen_sides:
            notes.append(f"two {leg.side} legs: the second is ignored")
            continue
        seen_sides.add(leg.side)
        result.legs.append(leg)
        notes.extend(f"{leg.side} {n}" for n in leg.notes)
        for part, xy in zip(PARTS, (leg.hip, leg.knee, leg.ankle), strict=True):
            if np.all(np.isfinite(xy)):
                points.setdefault(f"{part}_{leg.side}", xy)
    for name, xy in points.items():
        i = landmarks.index(name)
        if (
            ann.width
            and ann.height
            and not (-0.5 <= xy[0] <= ann.width - 0.5 and -0.5 <= xy[1] <= ann.height - 0.5)
        ):
            notes.append(
                f"{name} at ({xy[0]:.1f}, {xy[1]:.1f}) lies outside the image: not annotated"
            )
            continue
        labels.xy[i] = xy
        labels.annotated[i] = True
    if other_side == "absent" and derivable:
        drawn = {s for s in SIDES if any(f"{p}_{s}" in points for p in PARTS)}
        for side in SIDES:
            if side not in drawn:
                for p in PARTS:
                    labels.annotated[landmarks.index(f"{p}_{side}")] = True
    return result
