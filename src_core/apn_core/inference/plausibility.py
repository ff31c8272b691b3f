"""Anatomical plausibility of one image's six landmarks: flag only the implausible.

A landmark on the wrong structure often still looks like a confident heatmap peak; its
*geometry* gives it away: a femur twice the tibia, a 3 m leg, a right knee on the image's
right. Each failed check is a :class:`Finding` naming its reason and the landmarks it
implicates; ``pinned`` is the one landmark to blame when the check can tell, else None
(e.g. a too-long leg: the spacing, or either end). Absent landmarks (NaN) skip the checks
that need them.

The ranges (:class:`Ranges`) are deliberately generous — a review flag asks a human to
look, it does not reject — and each is a few times wider than the spread reported for
adults:

- femur/tibia length ratio 1.0–1.5: the tibia is ~80–86 % of the femur in modern humans
  (crural index; Holliday & Ruff 2001, Am J Phys Anthropol 116:26), i.e. a ratio ~1.16–1.25,
  similar in children (Anderson, Green & Messner 1963, J Bone Joint Surg Am 45:1).
- absolute lengths (hip centre–ankle centre 250–1200 mm, femur 120–650 mm, tibia
  90–550 mm, femoral head centres 60–350 mm apart): from a small child standing for a
  long-leg film to a 2.1 m adult (femur ≈ (stature − 61 cm) / 2.38, Trotter & Gleser 1952,
  Am J Phys Anthropol 10:463). A 0.5 vs 0.143 mm/px mix-up scales every length 3.5×.
- left/right difference of femur, tibia or leg ≤ 6 % (~26 mm of a 440 mm femur): anatomic
  leg-length inequality averages 5.2 ± 4.1 mm (Knutson 2005, Chiropr Osteopat 13:11).
- |HKA| ≤ 25°: the adult mechanical axis is 1.3° ± 2° varus (Moreland, Bassett & Hanker
  1987, J Bone Joint Surg Am 69:745); even severe osteoarthritic deformity rarely exceeds
  ±20°.
- hip, knee and ankle lines (through both femoral head / knee / ankle centres) within 20°
  of the image horizontal, femur and tibia axes within 35° of the vertical: a standing AP
  film, allowing pelvic obliquity, deformity and a rotated detector.
- ordering: per leg the hip is above the knee, the knee above the ankle; the patient's
  right leg is on the image's left (the project's convention).

Coordinates: ``xy`` ``(K, 2)`` image (x=col, y=row) pixels, NaN where absent; ``spacing``
(row_mm, col_mm). Works on the default six-landmark set (names ``femur_/knee_/ankle_`` ×
``right/left``); other sets get no findings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet

SIDES = ("right", "left")
PARTS = ("femur", "knee", "ankle")  # landmark name prefixes: femoral head, knee, ankle centres


@dataclass(frozen=True)
class Ranges:
    """Plausible ranges (see the module docstring for the sources)."""

    femur_tibia_ratio: tuple[float, float] = (1.0, 1.5)
    leg_mm: tuple[float, float] = (250.0, 1200.0)
    femur_mm: tuple[float, float] = (120.0, 650.0)
    tibia_mm: tuple[float, float] = (90.0, 550.0)
    hip_distance_mm: tuple[float, float] = (60.0, 350.0)
    side_difference: float = 0.06  # |right − left| / mean, femur, tibia and leg
    hka_deg: float = 25.0
    line_tilt_deg: float = 20.0
    axis_tilt_deg: float = 35.0


NO_LANDMARK = (
    "no landmark found: not a long-leg radiograph of hips, knees and ankles, or one the "
    "model cannot read"
)
NO_CONFIDENT_LANDMARK = (
    "no landmark found with confidence: not a long-leg radiograph of hips, knees and "
    "ankles, or one the model cannot read"
)


@dataclass(frozen=True)
class Finding:
    """One failed check. check: its name (``ratio_right``, ``scale``, ...); reason: one
    line for a human; landmarks: the implicated landmark names; pinned: the single
    landmark to blame, or None when the check cannot tell which."""

    check: str
    reason: str
    landmarks: tuple[str, ...]
    pinned: str | None = None

    def to_dict(self) -> dict:
        return asdict(self) | {"landmarks": list(self.landmarks)}


def check_plausibility(
    xy: np.ndarray,
    present: np.ndarray,
    spacing: tuple[float, float] | None,
    landmarks: LandmarkSet = DEFAULT_LANDMARKS,
    ranges: Ranges = Ranges(),
) -> list[Finding]:
    """All failed checks of one image (empty = plausible). Without a spacing only the
    unit-free checks run (ordering, sides, ratio, angles, symmetry)."""
    names = [f"{part}_{side}" for part in PARTS for side in SIDES]
    if any(n not in landmarks for n in names):
        return []
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    ok = np.asarray(present, dtype=bool) & np.isfinite(xy).all(axis=1)
    unit = np.array([spacing[1], spacing[0]]) if spacing is not None else np.ones(2)
    pts = {n: xy[landmarks.index(n)] * unit for n in names if ok[landmarks.index(n)]}
    if not pts:  # a chest film, a hand, the wrong region, or nothing the model can read
        return [Finding("no_landmark", NO_LANDMARK, tuple(names))]
    g = _Geometry(pts, ranges, spacing)
    findings = g.sides() + g.ordering()
    findings += g.scale() if spacing is not None else []
    scale_failed = any(f.check == "scale" for f in findings)
    if spacing is not None and not scale_failed:
        findings += g.lengths()
    findings += g.ratios() + g.symmetry() + g.hka() + g.lines()
    return pin(findings)


class _Geometry:
    """The checks, on landmark positions in mm (or px without a spacing)."""

    def __init__(
        self, pts: dict[str, np.ndarray], ranges: Ranges, spacing: tuple[float, float] | None
    ) -> None:
        self.p, self.r = pts, ranges
        self.unit = "mm" if spacing is not None else "px"
        row, col = spacing or (math.nan, math.nan)
        self.spacing_text = f"{row:g} mm/px" if row == col else f"{row:g} × {col:g} mm/px"

    def has(self, *names: str) -> bool:
        return all(n in self.p for n in names)

    def length(self, a: str, b: str) -> float:
        return float(np.linalg.norm(self.p[a] - self.p[b]))

    def segments(self, side: str) -> dict[str, tuple[str, str]]:
        h, k, a = (f"{part}_{side}" for part in PARTS)
        return {"femur": (h, k), "tibia": (k, a), "leg": (h, a)}

    # -- image frame -------------------------------------------------------------------

    def sides(self) -> list[Finding]:
        """The patient's right is on the image's left: x(right) < x(left) for every pair."""
        swapped = [
            part
            for part in PARTS
            if self.has(f"{part}_right", f"{part}_left")
            and self.p[f"{part}_right"][0] > self.p[f"{part}_left"][0]
        ]
        pairs = [part for part in PARTS if self.has(f"{part}_right", f"{part}_left")]
        if not swapped:
            return []
        if len(swapped) == len(pairs) and len(pairs) >= 2:
            return [
                Finding(
                    "sides",
                    "every right landmark lies on the image's right: left and right "
                    "swapped (mirrored image?)",
                    tuple(sorted(self.p)),
                )
            ]
        return [
            Finding(
                f"sides_{part}",
                f"{part}_right lies right of {part}_left on the image "
                "(patient's right belongs on the image's left)",
                (f"{part}_right", f"{part}_left"),
            )
            for part in swapped
        ]

    def ordering(self) -> list[Finding]:
        """Hip above knee above ankle; femur and tibia axes near vertical."""
        out = []
        for side in SIDES:
            h, k, a = (f"{part}_{side}" for part in PARTS)
            for upper, lower in ((h, k), (k, a), (h, a)):
                if not self.has(upper, lower):
                    continue
                d = self.p[lower] - self.p[upper]
                if d[1] <= 0:
                    out.append(
                        Finding(
                            f"order_{side}",
                            f"{lower} is not below {upper} (image upside down or rotated?)",
                            (upper, lower),
                        )
                    )
                    break
                tilt = math.degrees(math.atan2(abs(d[0]), d[1]))
                if (upper, lower) != (h, a) and tilt > self.r.axis_tilt_deg:
                    segment = "femur" if upper == h else "tibia"
                    out.append(
                        Finding(
                            f"axis_{segment}_{side}",
                            f"{segment}_{side} axis {tilt:.0f}° from vertical "
                            f"(plausible ≤ {self.r.axis_tilt_deg:g}°)",
                            (upper, lower),
                        )
                    )
        return out

    def lines(self) -> list[Finding]:
        """Hip, knee and ankle lines near horizontal."""
        out = []
        for part in PARTS:
            r, left = f"{part}_right", f"{part}_left"
            if not self.has(r, left):
                continue
            d = self.p[left] - self.p[r]
            tilt = math.degrees(math.atan2(abs(d[1]), abs(d[0])))
            if tilt > self.r.line_tilt_deg:
                label = {"femur": "hip", "knee": "knee", "ankle": "ankle"}[part]
                out.append(
                    Finding(
                        f"line_{label}",
                        f"{label} line tilted {tilt:.0f}° (plausible ≤ "
                        f"{self.r.line_tilt_deg:g}°): one of {r}, {left} is misplaced",
                        (r, left),
                    )
                )
        return out

    # -- lengths -----------------------------------------------------------------------

    def _typical(self) -> list[tuple[str, float, tuple[float, float], tuple[str, ...]]]:
        """(what, length mm, range, landmarks) of every measurable length."""
        out = []
        for side in SIDES:
            for seg, (a, b) in self.segments(side).items():
                if self.has(a, b):
                    rng = {
                        "femur": self.r.femur_mm,
                        "tibia": self.r.tibia_mm,
                        "leg": self.r.leg_mm,
                    }[seg]
                    out.append((f"{seg}_{side}", self.length(a, b), rng, (a, b)))
        if self.has("femur_right", "femur_left"):
            out.append(
                (
                    "hip distance",
                    self.length("femur_right", "femur_left"),
                    self.r.hip_distance_mm,
                    ("femur_right", "femur_left"),
                )
            )
        return out

    def scale(self) -> list[Finding]:
        """The longest measurable lengths (legs, else femur/tibia, else the hip distance)
        all too long, or all too short → the spacing, not a landmark."""
        lengths = self._typical()
        for level in (("leg",), ("femur", "tibia"), ("hip",)):
            chosen = [x for x in lengths if x[0].split("_")[0].split(" ")[0] in level]
            if chosen:
                break
        else:
            return []
        hint = {
            "long": "a 0.143 mm/px image read as 0.5 mm/px measures 3.5× too long",
            "short": "a 0.5 mm/px image read as 0.143 mm/px measures 3.5× too short",
        }
        for word, bad in (("long", lambda x: x[1] > x[2][1]), ("short", lambda x: x[1] < x[2][0])):
            if all(bad(x) for x in chosen):
                what, value, (lo, hi), _ = chosen[0]
                return [
                    Finding(
                        "scale",
                        f"{what} {value:.0f} mm is too {word} (plausible {lo:g}–{hi:g} mm): check "
                        f"the pixel spacing {self.spacing_text} ({hint[word]})",
                        tuple(sorted(self.p)),
                    )
                ]
        return []

    def lengths(self) -> list[Finding]:
        out = []
        for what, value, (lo, hi), implicated in self._typical():
            if not lo <= value <= hi:
                out.append(
                    Finding(
                        f"length_{what.replace(' ', '_')}",
                        f"{what} {value:.0f} mm (plausible {lo:g}–{hi:g} mm)",
                        implicated,
                    )
                )
        return out

    def ratios(self) -> list[Finding]:
        out = []
        lo, hi = self.r.femur_tibia_ratio
        for side in SIDES:
            h, k, a = (f"{part}_{side}" for part in PARTS)
            if not self.has(h, k, a):
                continue
            femur, tibia = self.length(h, k), self.length(k, a)
            ratio = femur / max(tibia, 1e-9)
            if not lo <= ratio <= hi:
                out.append(
                    Finding(
                        f"ratio_{side}",
                        f"femur_{side} {ratio:.2f}× the tibia (plausible {lo:g}–{hi:g}): "
                        f"{k} (or {h}/{a}) misplaced",
                        (h, k, a),
                    )
                )
        return out

    def symmetry(self) -> list[Finding]:
        """Right vs left femur, tibia and leg; the pattern says which level is suspect:
        femur and tibia off in opposite directions → the knees; femur only → the hips;
        tibia only → the ankles; the whole leg only → hip or ankle."""
        diffs = {}
        for seg in ("femur", "tibia", "leg"):
            (ar, br), (al, bl) = self.segments("right")[seg], self.segments("left")[seg]
            if self.has(ar, br, al, bl):
                right, left = self.length(ar, br), self.length(al, bl)
                diffs[seg] = (right, left, (right - left) / max(0.5 * (right + left), 1e-9))
        limit = self.r.side_difference
        off = {seg for seg, (_, _, d) in diffs.items() if abs(d) > limit}
        if not off:
            return []

        def text(seg: str) -> str:
            right, left, d = diffs[seg]
            return f"{seg} right {right:.0f} {self.unit} vs left {left:.0f} {self.unit} ({100 * abs(d):.0f} % apart, plausible ≤ {100 * limit:.0f} %)"

        if {"femur", "tibia"} <= off and diffs["femur"][2] * diffs["tibia"][2] < 0:
            return [
                Finding(
                    "symmetry_knee",
                    f"{text('femur')} and {text('tibia')} in opposite directions: "
                    "a knee centre is misplaced",
                    ("knee_right", "knee_left"),
                )
            ]
        out = []
        if "femur" in off:
            out.append(
                Finding(
                    "symmetry_femur",
                    f"{text('femur')}: a femoral head centre is misplaced, or a true "
                    "length difference",
                    ("femur_right", "femur_left"),
                )
            )
        if "tibia" in off:
            out.append(
                Finding(
                    "symmetry_tibia",
                    f"{text('tibia')}: an ankle centre is misplaced, or a true length difference",
                    ("ankle_right", "ankle_left"),
                )
            )
        if off == {"leg"}:
            out.append(
                Finding(
                    "symmetry_leg",
                    f"{text('leg')}: a hip or ankle centre is misplaced, or a true "
                    "leg-length difference",
                    ("femur_right", "femur_left", "ankle_right", "ankle_left"),
                )
            )
        return out

    def hka(self) -> list[Finding]:
        """|HKA| within the physiological range (the angle at the knee, from straight)."""
        out = []
        for side in SIDES:
            h, k, a = (f"{part}_{side}" for part in PARTS)
            if not self.has(h, k, a):
                continue
            u, v = self.p[h] - self.p[k], self.p[a] - self.p[k]
            cos = float(np.dot(u, v) / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-9))
            deviation = 180.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos))))
            if deviation > self.r.hka_deg:
                out.append(
                    Finding(
                        f"hka_{side}",
                        f"HKA {side} {deviation:.0f}° from straight (plausible ≤ "
                        f"{self.r.hka_deg:g}°): {k} (or {h}/{a}) misplaced",
                        (h, k, a),
                    )
                )
        return out


PINNABLE = 3  # a finding about more landmarks (scale, sides, whole legs) concerns the image


def pin(findings: list[Finding]) -> list[Finding]:
    """Pin a finding to one landmark where the findings that overlap it agree on exactly
    one: a knee implicated by its leg's femur/tibia ratio *and* by the right/left
    comparison is that knee. Only local findings (≤ ``PINNABLE`` landmarks) are pinned
    or narrow others: a wrong pixel spacing or swapped sides stays the whole image's."""
    local = [f for f in findings if len(f.landmarks) <= PINNABLE]
    out = []
    for f in findings:
        candidates = set(f.landmarks)
        for g in local if len(f.landmarks) <= PINNABLE else ():
            common = candidates & set(g.landmarks)
            if g is not f and common:
                candidates = common
        single = len(candidates) == 1 and len(f.landmarks) > 1 and f.pinned is None
        out.append(Finding(f.check, f.reason, f.landmarks, next(iter(candidates))) if single else f)
    return out
