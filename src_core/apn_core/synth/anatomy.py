"""Random but plausible lower-limb geometry, in millimetres, with exact landmarks.

Frame: x to the image's right (the patient's left), y down, origin at the pelvis centre.
Each leg is built from its hip (femoral head centre H), knee joint centre K and ankle
joint centre A (see :mod:`.definitions`) so that the hip–knee–ankle angle equals the
sampled varus/valgus angle. Everything else (bone outlines, joint lines, implants) is
drawn relative to these points in the frames of :class:`Frame`, so the drawn anatomy
follows the definitions whatever the deformity, rotation, flexion or size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from apn_core.synth.draws import Draws, chance, pick, uniform

SIDES = ("right", "left")  # patient's right leg is on the image's left (x < 0)
FOOT_STYLES = ("ap", "oblique", "plantar", "minimal")
AMPUTATION_LEVELS = ("transtibial", "transfemoral", "hip")
# Shape factors drawn per leg (N(1, shape_jitter)), so no two legs share exact proportions.
JITTER = (
    "head",
    "neck",
    "trochanter",
    "shaft",
    "condyle",
    "notch",
    "patella",
    "plateau",
    "spine",
    "tibia",
    "fibula",
    "malleolus",
    "talus",
    "calcaneus",
    "metatarsal",
    "soft",
    "foot_u",  # position offsets of the hindfoot (see ankle.foot)
    "foot_v",
)


@dataclass(frozen=True)
class AnatomyPriors:
    """Distributions of a patient's anatomy (ranges are uniform unless said otherwise).

    size: body-size factor k of adults (1 ≈ femur 440 mm, femoral head radius 24 mm).
    child: probability that the patient is a child (open physes, size from ``child_size``).
    child_size: k of children (0.45 ≈ a 4-year-old, 0.85 ≈ 14 years).
    habitus: soft-tissue thickness factor (thin … obese).
    lean_sd_deg: SD of the whole body's lean in the image plane (clipped to ±3 SD).
    pelvic_tilt_sd_deg: SD of the pelvic obliquity (hip line not horizontal).
    deformity: probability per leg of a varus/valgus drawn uniformly within ±``hka_max_deg``
        (otherwise N(1°, 3°) clipped to that range).
    hka_max_deg: largest hip–knee–ankle deviation from straight (varus +, valgus −).
    neck_shaft_deg: femoral neck-shaft angle (coxa vara … valga).
    anteversion_deg: femoral anteversion (the neck points forward; foreshortens it on AP).
    neck_length: factor on the femoral neck length, i.e. on the femoral offset.
    bone_width: factor on the widths of shafts, condyles, plateau and talus.
    cortex: factor on cortical thickness (thin, osteoporotic … thick).
    shape_jitter: relative SD of every sub-structure's size, drawn per leg.
    patella_height_mm: patella shift along the femur (+ proximal: alta; − distal: baja).
    patella_shift_mm: patella shift across the knee (+ lateral).
    fibula_overlap_mm: fibula shift towards the tibia (+ more overlap, − apart).
    lld: probability of a leg-length difference; ``lld_max_mm`` its largest size.
    flexion: probability per leg of a flexed knee (femur and tibia foreshortened, patella
        lower, tibial plateau seen obliquely); ``flexion_max_deg`` its largest angle.
    rotation_sd_deg: SD of each limb's rotation about its mechanical axis (+ internal),
        clipped to ±30°: moves the patella, fibula and lesser trochanter, foreshortens the
        femoral neck and the condyles.
    foot_styles: how feet are drawn, one per leg from: ap (foreshortened metatarsals),
        oblique (externally rotated foot), plantar (weight-bearing hindfoot and tarsals),
        minimal (talus and calcaneus only).
    ankle_height_mm: height of the tibiotalar joint line above the sole (adult size; real
        standing films: 64–85 mm, interquartile, from the joint to the platform's edge).
    foot_top_mm: how far below the joint line the foot's dorsum leaves the leg's outline
        (where the beam starts to cross the foot lengthwise and the image brightens).
    plafond_plate: density of the subchondral plates of plafond and talar dome (× cortical
        bone): on a real AP film a faint line, never the strongest edge near the ankle.
    talus_density: the talus's density (× trabecular bone); real tali look as bright as the
        distal tibia or brighter, so the joint is not "where a dark box begins".
    joint_lips_mm: how far the plafond's anterior and posterior margins reach below its apex
        (adult): deep lips fill the joint space on the film, shallow ones leave it dark.
    amputation: probability that one leg is amputated; ``amputation_levels`` from
        transtibial (ankle absent), transfemoral (knee and ankle absent), hip (all three).
    """

    size: tuple[float, float] = (0.88, 1.15)
    child: float = 0.0
    child_size: tuple[float, float] = (0.45, 0.85)
    habitus: tuple[float, float] = (0.8, 1.3)
    lean_sd_deg: float = 1.0
    pelvic_tilt_sd_deg: float = 1.5
    deformity: float = 0.35
    hka_max_deg: float = 12.0
    neck_shaft_deg: tuple[float, float] = (122.0, 140.0)
    anteversion_deg: tuple[float, float] = (0.0, 25.0)
    neck_length: tuple[float, float] = (0.85, 1.15)
    bone_width: tuple[float, float] = (0.88, 1.15)
    cortex: tuple[float, float] = (0.7, 1.3)
    shape_jitter: float = 0.06
    patella_height_mm: tuple[float, float] = (-8.0, 8.0)
    patella_shift_mm: tuple[float, float] = (-5.0, 8.0)
    fibula_overlap_mm: tuple[float, float] = (-5.0, 8.0)
    lld: float = 0.5
    lld_max_mm: float = 20.0
    flexion: float = 0.1
    flexion_max_deg: float = 15.0
    rotation_sd_deg: float = 6.0
    foot_styles: tuple[str, ...] = FOOT_STYLES
    ankle_height_mm: tuple[float, float] = (64.0, 88.0)
    foot_top_mm: tuple[float, float] = (6.0, 22.0)
    plafond_plate: tuple[float, float] = (0.2, 1.0)
    talus_density: tuple[float, float] = (1.4, 2.4)
    joint_lips_mm: tuple[float, float] = (4.0, 12.0)
    amputation: float = 0.0
    amputation_levels: tuple[str, ...] = AMPUTATION_LEVELS


def _rot(v: np.ndarray, deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


@dataclass(frozen=True)
class Frame:
    """A joint's local frame: ``at(u, v)`` is ``u`` mm lateral and ``v`` mm distal of ``origin``.

    ``angle_deg`` is the in-plane rotation to give ellipsoids aligned with the frame.
    """

    origin: np.ndarray
    down: np.ndarray
    lat: np.ndarray

    @classmethod
    def make(cls, origin: np.ndarray, down: np.ndarray, lateral: float) -> Frame:
        d = _unit(np.asarray(down, float))
        return cls(np.asarray(origin, float), d, lateral * np.array([d[1], -d[0]]))

    def at(self, u: float, v: float) -> tuple[float, float]:
        p = self.origin + u * self.lat + v * self.down
        return float(p[0]), float(p[1])

    @property
    def angle_deg(self) -> float:
        return float(np.degrees(np.arctan2(-self.down[0], self.down[1])))


@dataclass(frozen=True)
class Mortise:
    """The ankle mortise in the ankle frame (mm; ``u`` lateral, ``v`` distal of the ankle
    centre), as the real-film ground truth reads it (:mod:`.definitions`).

    plafond_half: half the plafond's width, from the distal tibia's lateral border
        (``u = +plafond_half``) to the inner face of the medial malleolus (``u = −plafond_half``):
        the ankle centre is their midpoint.
    malleolus_half: half the medial malleolus's width; malleolus_tip: ``v`` of its tip.
    dome_half, dome_centre: the talar dome's half-width and centre ``u``. The dome fills the
        mortise from a 2 mm medial clear space to the lateral border less the tibia's
        anterolateral tubercle (which overhangs the dome and the fibula on an AP film), so
        its centre lies a millimetre or two medial of the ankle centre.
    fibula_face: ``u`` of the lateral malleolus's inner face (beside the talus).
    """

    plafond_half: float
    malleolus_half: float
    malleolus_tip: float
    dome_half: float
    dome_centre: float
    fibula_face: float


@dataclass
class Leg:
    """One leg. ``lateral`` is −1 for the right leg (image left), +1 for the left one.

    hip, knee, ankle: the landmarks (mm, projected on the detector plane).
    hka_deviation_deg: 180° minus the hip–knee–ankle angle; + varus (knee lateral of the
        hip–ankle line), − valgus.
    femur_length / tibia_length: projected lengths |HK|, |KA| (what a measurement on the
        image gives); ``flexion_deg`` > 0 makes them shorter than the bones.
    k: this leg's size factor; width, cortex: factors on widths and cortical thickness.
    jitter: per-structure size factors (names in ``JITTER``).
    ankle_height: the joint line's height above the sole (mm); foot_top: where the foot
        leaves the leg below the joint line (mm); plafond_plate: the plafond's subchondral
        plate density (× cortex); talus_density (× trabecular bone); lips: how far the
        plafond's margins reach below its apex (mm); floor_deg: the floor's tilt in the image
        (the body's lean).
    amputation: None or the level (landmarks distal to it do not exist); ``cut_fraction``
        where along the femur (transfemoral) or tibia (transtibial) the bone ends.
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
    k: float = 1.0
    anteversion_deg: float = 12.0
    neck_length: float = 48.0
    rotation_deg: float = 0.0
    flexion_deg: float = 0.0
    width: float = 1.0
    cortex: float = 1.0
    knee_gap: float = 5.0
    ankle_gap: float = 3.0
    patella_dy: float = 0.0
    patella_dx: float = 0.0
    fibula_overlap: float = 0.0
    foot: str = "ap"
    ankle_height: float = 75.0
    foot_top: float = 12.0
    plafond_plate: float = 0.6
    talus_density: float = 1.8
    lips: float = 8.0
    floor_deg: float = 0.0
    physes: bool = False
    amputation: str | None = None
    cut_fraction: float = 0.5
    jitter: dict[str, float] = field(default_factory=dict)

    def j(self, name: str) -> float:
        """Shape factor of one sub-structure (1 when not drawn)."""
        return self.jitter.get(name, 1.0)

    def femur_frame(self) -> Frame:
        """At the femoral head centre, ``down`` along the femoral mechanical axis."""
        return Frame.make(self.hip, self.knee - self.hip, self.lateral)

    def knee_frame(self) -> Frame:
        """At the knee centre; the joint line is ``v = 0``, perpendicular to the tibial axis."""
        return Frame.make(self.knee, self.ankle - self.knee, self.lateral)

    def ankle_frame(self) -> Frame:
        """At the ankle centre; the tibiotalar joint line is ``v = 0``."""
        return Frame.make(self.ankle, self.ankle - self.knee, self.lateral)

    def floor_frame(self) -> Frame:
        """At the ankle centre, ``down`` towards the floor (the foot stands on it, whatever
        the tibia's tilt); the sole is at ``v = ankle_height``."""
        return Frame.make(self.ankle, _rot(np.array([0.0, 1.0]), self.floor_deg), self.lateral)

    def sole(self) -> np.ndarray:
        """The point of the floor below the ankle centre (mm)."""
        return np.array(self.floor_frame().at(0.0, self.ankle_height))

    def mortise(self) -> Mortise:
        """The ankle mortise's dimensions (see :class:`Mortise`)."""
        k, ga = self.k, self.ankle_gap / 2
        rc, jm = self.rotation_cos, self.j("malleolus")
        p = 20.5 * k * self.width * self.j("tibia") * rc
        overhang, clear = 4.5 * k * self.j("fibula") * rc, 2.0 * k * rc
        return Mortise(
            plafond_half=p,
            malleolus_half=6.0 * k * jm * rc,
            malleolus_tip=-ga + 14.0 * k * jm,
            dome_half=(2 * p - overhang - clear) / 2,
            dome_centre=(clear - overhang) / 2,
            fibula_face=p - overhang + 1.0 * k,
        )

    def cut_mm(self) -> float | None:
        """Where the amputated bone ends: mm below the hip (transfemoral) or below the knee
        joint line (transtibial); None without an amputation."""
        if self.amputation == "transfemoral":
            return self.cut_fraction * float(np.linalg.norm(self.knee - self.hip))
        if self.amputation == "transtibial":
            return self.cut_fraction * float(np.linalg.norm(self.ankle - self.knee))
        return None

    @property
    def exists(self) -> tuple[bool, bool, bool]:
        """Whether (hip, knee, ankle) exist (False distal to an amputation)."""
        level = self.amputation
        return (level != "hip", level not in ("hip", "transfemoral"), level is None)

    def rotation_shift(self, depth_mm: float) -> float:
        """Lateral shift (mm) on the image of a point ``depth_mm`` anterior of the axis
        when the limb is rotated (internal rotation turns anterior points medially)."""
        return -depth_mm * float(np.sin(np.deg2rad(self.rotation_deg)))

    @property
    def rotation_cos(self) -> float:
        """Foreshortening of mediolateral widths by the limb rotation."""
        return float(np.cos(np.deg2rad(self.rotation_deg)))


@dataclass
class Anatomy:
    """A sampled patient: two legs, pelvis and body size (``scale`` ≈ 1 for an adult)."""

    scale: float
    pelvic_tilt_deg: float
    legs: dict[str, Leg]
    soft_tissue: float  # soft-tissue thickness multiplier (body habitus)
    child: bool = False
    lean_deg: float = 0.0
    extras: dict = field(default_factory=dict)

    def landmarks_mm(self) -> np.ndarray:
        """``(6, 2)`` (x, y) mm in the default landmark order (femur, knee, ankle × R, L)."""
        return np.array(
            [getattr(self.legs[s], part) for part in ("hip", "knee", "ankle") for s in SIDES]
        )

    def landmarks_exist(self) -> np.ndarray:
        """``(6,)`` bool in the same order: False for landmarks removed by an amputation."""
        return np.array([self.legs[s].exists[p] for p in range(3) for s in SIDES])

    def centre(self) -> np.ndarray:
        """Midpoint of the hip centres (pelvis centre)."""
        return (self.legs["right"].hip + self.legs["left"].hip) / 2.0


def sample_anatomy(
    rng_or_draws: np.random.Generator | Draws, priors: AnatomyPriors | None = None
) -> Anatomy:
    """Draw a patient from ``priors`` (a bare generator gives the default adult priors)."""
    pri = priors or AnatomyPriors()
    draws = rng_or_draws if isinstance(rng_or_draws, Draws) else _single(rng_or_draws)
    body = draws("anatomy.body")
    is_child = chance(body, pri.child)
    adult_k, child_k = uniform(body, pri.size), uniform(body, pri.child_size)
    k = child_k if is_child else adult_k
    tilt = float(np.clip(body.normal(0.0, 1.0), -3, 3)) * pri.pelvic_tilt_sd_deg
    lean = float(np.clip(body.normal(0.0, 1.0), -3, 3)) * pri.lean_sd_deg
    hip_width = 178.0 * k + float(body.normal(0.0, 7.0 * k))
    femur = 440.0 * k + float(body.normal(0.0, 15.0 * k))
    tibia = femur * float(body.uniform(0.78, 0.88))
    habitus = uniform(body, pri.habitus) * (0.85 if is_child else 1.0)
    ankle_offset = float(body.normal(22.0, 12.0)) * k

    lld_rng = draws("anatomy.lld")
    lld_size = float(lld_rng.uniform(-1.0, 1.0)) * pri.lld_max_mm * (k if is_child else 1.0)
    lld = lld_size if chance(lld_rng, pri.lld) else 0.0

    amp_rng = draws("anatomy.amputation")
    amp_side, amp_level = pick(amp_rng, SIDES), pick(amp_rng, pri.amputation_levels or ("hip",))
    amp_cut = float(amp_rng.uniform(0.3, 0.7))
    amputated = chance(amp_rng, pri.amputation) and bool(pri.amputation_levels)

    legs = {}
    for side, lateral in (("right", -1.0), ("left", 1.0)):
        hip = _rot(np.array([lateral * hip_width / 2.0, 0.0]), tilt)
        share = lld / 2.0 * (1.0 if side == "right" else -1.0)
        legs[side] = _sample_leg(
            draws,
            pri,
            side,
            lateral,
            hip,
            femur + 0.6 * share,
            tibia + 0.4 * share,
            ankle_offset,
            k,
            is_child,
        )
        if amputated and side == amp_side:
            legs[side].amputation = amp_level
            legs[side].cut_fraction = amp_cut
    _separate_ankles(legs, min_gap=70.0 * k)
    if lean:
        for leg in legs.values():
            for part in ("hip", "knee", "ankle"):
                setattr(leg, part, _rot(getattr(leg, part), lean))
            leg.floor_deg = lean
    return Anatomy(
        scale=k,
        pelvic_tilt_deg=tilt + lean,
        legs=legs,
        soft_tissue=habitus,
        child=is_child,
        lean_deg=lean,
        extras={"leg_length_difference_mm": round(lld, 2)},
    )


class _single:
    """Adapter: every axis of a bare generator draws from that one generator (old callers)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def __call__(self, name: str) -> np.random.Generator:
        return self.rng


def _sample_leg(draws, pri: AnatomyPriors, side, lateral, hip, lf3, lt3, ankle_offset, k, child):
    """Draw one leg's shape, then place K and A from the (foreshortened) bone lengths."""
    rng = draws(f"anatomy.leg.{side}")
    lf3 += float(rng.normal(0.0, 2.0))
    lt3 += float(rng.normal(0.0, 2.0))
    severe = float(rng.uniform(-pri.hka_max_deg, pri.hka_max_deg))
    mild = float(np.clip(rng.normal(1.0, 3.0), -pri.hka_max_deg, pri.hka_max_deg))
    dev = severe if chance(rng, pri.deformity) else mild
    medial = float(np.clip(ankle_offset + rng.normal(0.0, 6.0 * k), -15.0 * k, 70.0 * k))
    flex_rng = draws(f"anatomy.flexion.{side}")
    flex_angle = float(flex_rng.uniform(3.0, max(pri.flexion_max_deg, 3.0)))
    flexion = flex_angle if chance(flex_rng, pri.flexion) else 0.0
    femur_share = float(flex_rng.uniform(0.35, 0.65))
    lf = lf3 * float(np.cos(np.deg2rad(flexion * femur_share)))
    lt = lt3 * float(np.cos(np.deg2rad(flexion * (1.0 - femur_share))))
    rot_rng = draws(f"anatomy.rotation.{side}")
    rotation = float(np.clip(rot_rng.normal(0.0, 1.0) * pri.rotation_sd_deg, -30.0, 30.0))
    knee, ankle = _place_knee_ankle(lateral, hip, lf, lt, dev, medial)
    shape = draws(f"anatomy.shape.{side}")
    jitter = {
        name: float(np.clip(1.0 + shape.normal(0.0, pri.shape_jitter), 0.75, 1.25))
        for name in JITTER
    }
    foot = pick(shape, pri.foot_styles or FOOT_STYLES)
    feet = draws(f"anatomy.foot.{side}")
    return Leg(
        side=side,
        lateral=lateral,
        hip=hip,
        knee=knee,
        ankle=ankle,
        head_radius=24.0 * k * uniform(shape, (0.92, 1.08)),
        hka_deviation_deg=dev,
        femur_length=lf,
        tibia_length=lt,
        neck_angle_deg=uniform(shape, pri.neck_shaft_deg),
        k=k,
        anteversion_deg=uniform(shape, pri.anteversion_deg),
        neck_length=48.0 * k * uniform(shape, pri.neck_length),
        rotation_deg=rotation,
        flexion_deg=flexion,
        width=uniform(shape, pri.bone_width),
        cortex=uniform(shape, pri.cortex) * (0.75 if child else 1.0),
        knee_gap=uniform(shape, (6.0, 9.0) if child else (3.0, 7.0)),
        ankle_gap=uniform(shape, (3.0, 5.0) if child else (2.0, 4.0)),
        patella_dy=uniform(shape, pri.patella_height_mm) * k,
        patella_dx=uniform(shape, pri.patella_shift_mm) * k,
        fibula_overlap=uniform(shape, pri.fibula_overlap_mm) * k,
        foot=foot,
        ankle_height=uniform(feet, pri.ankle_height_mm) * k,
        foot_top=uniform(feet, pri.foot_top_mm) * k,
        plafond_plate=uniform(feet, pri.plafond_plate),
        talus_density=uniform(feet, pri.talus_density),
        lips=uniform(feet, pri.joint_lips_mm) * k,
        physes=child,
        jitter=jitter,
    )


def _place_knee_ankle(lateral, hip, lf, lt, dev, medial_offset):
    """Place K and A so that |HK| = lf, |KA| = lt and the angle at K is 180° − dev."""
    gamma = np.deg2rad(180.0 - dev)
    d = float(np.sqrt(lf**2 + lt**2 - 2 * lf * lt * np.cos(gamma)))
    medial_offset = float(np.clip(medial_offset, -0.3 * d, 0.3 * d))
    ankle = hip + np.array([-lateral * medial_offset, np.sqrt(d**2 - medial_offset**2)])
    u = (ankle - hip) / d
    alpha = np.arccos(np.clip((lf**2 + d**2 - lt**2) / (2 * lf * d), -1.0, 1.0))
    lat = np.array([lateral, 0.0])
    n = lat - np.dot(lat, u) * u
    n /= np.linalg.norm(n)
    knee = hip + lf * (np.cos(alpha) * u + np.sign(dev) * np.sin(alpha) * n)
    return knee, ankle


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
