"""Style families: named sets of generator distributions (anatomy, hardware, exposure,
processing, overlays, accessories, field of view, storage).

A family is what one kind of clinic or patient group produces. Training with one family
held out and testing on it measures how a model copes with images it never saw
(``benchmarks/heldout_family.py``). Case *i* of a series belongs to
``families[i % len(families)]``, so every folder is balanced and case *i* does not depend
on how many cases are rendered.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace

from apn_core.synth.accessories import BALL_PLACES, RULER_PLACES, AccessoryPriors
from apn_core.synth.acquisition import AcquisitionPriors
from apn_core.synth.anatomy import AMPUTATION_LEVELS, FOOT_STYLES, AnatomyPriors
from apn_core.synth.hardware import (
    CAST_SITES,
    FIXATOR_STYLES,
    HIP_STYLES,
    KNEE_STYLES,
    NAIL_SITES,
    PLATE_SITES,
    SCREW_SITES,
    HardwarePriors,
)
from apn_core.synth.overlays import OverlayPriors
from apn_core.synth.processing import EQUALISERS, LUTS, ProcessingPriors
from apn_core.synth.ruler import RULER_STYLES
from apn_core.synth.storage import FORMATS, StoragePriors
from apn_core.synth.view import RESTRICTIONS, ViewPriors

SECTIONS = (
    "anatomy",
    "hardware",
    "acquisition",
    "processing",
    "overlays",
    "accessories",
    "view",
    "storage",
)
CHOICES = {  # allowed values of the categorical fields
    "anatomy.foot_styles": FOOT_STYLES,
    "anatomy.amputation_levels": AMPUTATION_LEVELS,
    "hardware.hip_styles": HIP_STYLES,
    "hardware.knee_styles": KNEE_STYLES,
    "hardware.nail_sites": NAIL_SITES,
    "hardware.plate_sites": PLATE_SITES,
    "hardware.screw_sites": SCREW_SITES,
    "hardware.fixator_styles": FIXATOR_STYLES,
    "hardware.cast_sites": CAST_SITES,
    "processing.luts": LUTS,
    "processing.equalisers": EQUALISERS,
    "accessories.ruler_places": RULER_PLACES,
    "accessories.ruler_styles": RULER_STYLES,
    "accessories.ball_places": BALL_PLACES,
    "view.restrictions": RESTRICTIONS,
    "storage.formats": FORMATS,
    "storage.bits": (8, 10, 12, 14, 16),
}


@dataclass(frozen=True)
class Family:
    """A named style family: one priors object per section (see each class's docstring)."""

    name: str
    summary: str
    anatomy: AnatomyPriors = field(default_factory=AnatomyPriors)
    hardware: HardwarePriors = field(default_factory=HardwarePriors)
    acquisition: AcquisitionPriors = field(default_factory=AcquisitionPriors)
    processing: ProcessingPriors = field(default_factory=ProcessingPriors)
    overlays: OverlayPriors = field(default_factory=OverlayPriors)
    accessories: AccessoryPriors = field(default_factory=AccessoryPriors)
    view: ViewPriors = field(default_factory=ViewPriors)
    storage: StoragePriors = field(default_factory=StoragePriors)

    def with_overrides(self, overrides: dict[str, object]) -> Family:
        """A copy with ``{"section.field": value}`` replaced (validated, coerced)."""
        changes: dict[str, dict] = {}
        for key, value in overrides.items():
            section, name, coerced = parse_override(key, value)
            changes.setdefault(section, {})[name] = coerced
        return replace(self, **{s: replace(getattr(self, s), **c) for s, c in changes.items()})


def parse_override(key: str, value: object) -> tuple[str, str, object]:
    """Validate ``section.field`` and coerce ``value`` to the field's type (ValueError if not).

    Numbers for probabilities and factors; ``"lo,hi"`` or one number for ranges; comma
    lists (``"ap,plantar"``) for categorical choices.
    """
    section, _, name = key.partition(".")
    if section not in SECTIONS:
        raise ValueError(
            f"unknown generator setting {key!r}: the section must be one of {', '.join(SECTIONS)}"
        )
    priors = getattr(Family("x", ""), section)
    names = [f.name for f in dataclasses.fields(priors)]
    if name not in names:
        raise ValueError(f"unknown generator setting {key!r}; {section} has {', '.join(names)}")
    default = getattr(priors, name)
    is_range = key in INT_RANGES or (
        isinstance(default, tuple) and len(default) == 2 and isinstance(default[0], float)
    )
    try:
        coerced = _coerce(value, default, is_range)
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r} is not like its default {default!r}") from None
    if key in CHOICES:
        bad = [v for v in coerced if v not in CHOICES[key]]  # type: ignore[union-attr]
        if bad or not coerced:
            raise ValueError(f"{key}: {bad} not among {', '.join(map(str, CHOICES[key]))}")
    if name in PROBABILITIES and not 0.0 <= coerced <= 1.0:  # type: ignore[operator]
        raise ValueError(f"{key} is a probability; {coerced} is not within 0-1")
    if is_range and coerced[0] > coerced[1]:  # type: ignore[index]
        raise ValueError(f"{key}: range {coerced} runs backwards")
    return section, name, coerced


INT_RANGES = {"acquisition.exposures", "storage.jpeg_quality"}
PROBABILITIES = {
    "hip_replacement",
    "knee_replacement",
    "nail",
    "plate",
    "screws",
    "fixator",
    "cast",
    "growth_plates",
    "shield",
    "prosthetic_limb",
    "titanium",
    "child",
    "deformity",
    "lld",
    "flexion",
    "amputation",
    "grid_lines",
    "collimation",
    "seam_line",
    "equalise",
    "text",
    "padding",
    "ruler",
    "markers",
    "blocks",
    "calibration_ball",
    "restricted",
    "ruler_partial",
    "nail_lag_screw",
    "occluded",
}


def _coerce(value: object, default: object, is_range: bool) -> object:
    if isinstance(default, bool):
        return str(value).lower() in ("1", "true", "yes") if isinstance(value, str) else bool(value)
    if isinstance(default, float):
        return float(value)  # type: ignore[arg-type]
    if isinstance(default, int):
        return int(value)  # type: ignore[arg-type]
    if isinstance(default, tuple):
        items = value.split(",") if isinstance(value, str) else value
        items = list(items) if isinstance(items, list | tuple) else [items]
        kind = type(default[0]) if default else str
        out = tuple(kind(v.strip() if isinstance(v, str) else v) for v in items)
        if is_range and len(out) == 1:
            out = (out[0], out[0])  # one number for a range: exactly that value
        if is_range and len(out) != 2:
            raise ValueError
        return out
    raise TypeError


_A = AnatomyPriors
_H = HardwarePriors
_Q = AcquisitionPriors
_P = ProcessingPriors
_O = OverlayPriors
_C = AccessoryPriors
_V = ViewPriors
_S = StoragePriors

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "dr-clinic",
            "DR-processed adult clinic: stitched flat-panel exposures, latitude compression "
            "and edge enhancement, 12–16-bit DICOM/TIFF, few implants, rulers and side markers",
            _A(size=(0.88, 1.18), deformity=0.3, flexion=0.08, rotation_sd_deg=5.0, lld=0.4),
            _H(hip_replacement=0.08, knee_replacement=0.08, shield=0.15),
            _Q(collimation=0.1),
            _P(luts=("log",), latitude=(0.45, 0.7), unsharp=(0.1, 0.6), window=(-0.1, 0.02)),
            _O(shutter=0.5, text=0.4),
            _C(
                ruler=0.9,
                ruler_places=("left", "right", "between"),
                markers=0.6,
                blocks=0.3,
                calibration_ball=0.05,
            ),
            _V(),
            _S(formats=("dicom", "tiff"), bits=(12, 14, 16)),
        ),
        Family(
            "cr-film",
            "CR / film-like: cassettes with gain steps and seams, anti-scatter grid lines, "
            "S-shaped film curve, more scatter and noise, collimation borders, MONOCHROME1 "
            "DICOM at 10–12 bits, older adults with thinner cortices",
            _A(size=(0.85, 1.2), cortex=(0.55, 1.1), deformity=0.35, rotation_sd_deg=7.0),
            _H(hip_replacement=0.12, knee_replacement=0.12, screws=0.03, shield=0.1),
            _Q(
                exposures=(2, 3),
                gain_step=0.2,
                scatter=(0.25, 0.55),
                heel=0.2,
                grid_lines=0.7,
                grid_contrast=(0.015, 0.06),
                blur_mm=(0.2, 0.5),
                dose=(0.3, 1.0),
                electronic_noise=(0.0, 0.001),
                collimation=0.5,
                collimation_mm=(10.0, 60.0),
            ),
            _P(
                luts=("s-curve", "s-curve", "log"),
                latitude=(0.0, 0.35),
                unsharp=(0.0, 0.3),
                window=(-0.05, 0.06),
                gamma=(0.9, 1.6),
            ),
            _O(shutter=0.1, text=0.3),
            _C(ruler=0.7, markers=0.8, blocks=0.3),
            _V(),
            _S(formats=("dicom-mono1", "dicom-mono1", "dicom"), bits=(10, 12)),
        ),
        Family(
            "export-8bit",
            "exported 8-bit images: histogram equalisation, gamma and clipped windows, "
            "linear/log/S tone curves, JPEG (quality 30–95), 8/16-bit PNG and 8-bit TIFF "
            "without spacing tags, padding to a canvas, burned-in text, off-centre legs",
            _A(deformity=0.35, rotation_sd_deg=6.0),
            _H(hip_replacement=0.08, knee_replacement=0.08, shield=0.1),
            _Q(collimation=0.3),
            _P(
                luts=LUTS,
                latitude=(0.2, 0.7),
                unsharp=(0.0, 0.8),
                equalise=0.7,
                window=(-0.05, 0.12),
                gamma=(0.6, 1.6),
            ),
            _O(shutter=0.5, text=0.7, text_mm=(3.0, 12.0), padding=0.6, padding_mm=(5.0, 100.0)),
            _C(ruler=0.6, ruler_places=RULER_PLACES, ruler_partial=0.3, markers=0.5, blocks=0.3),
            _V(width_mm=(300.0, 480.0), off_centre_mm=30.0),
            _S(formats=("jpeg", "jpeg", "png", "tiff"), bits=(8, 8, 16)),
        ),
        Family(
            "postop",
            "post-operative and implant-heavy: hip and knee replacements of several designs, "
            "nails, plates, screws, external fixators, casts, amputations with prosthetic "
            "limbs, calibration balls",
            _A(size=(0.85, 1.2), cortex=(0.6, 1.2), deformity=0.3, flexion=0.15, amputation=0.08),
            _H(
                hip_replacement=0.35,
                knee_replacement=0.35,
                nail=0.15,
                plate=0.15,
                screws=0.12,
                fixator=0.06,
                cast=0.08,
                shield=0.05,
                prosthetic_limb=0.7,
            ),
            _Q(collimation=0.2),
            _P(
                luts=("log", "log", "s-curve"),
                latitude=(0.3, 0.7),
                unsharp=(0.0, 0.8),
                equalise=0.15,
            ),
            _O(shutter=0.5, text=0.4),
            _C(
                ruler=0.8,
                ruler_places=RULER_PLACES,
                markers=0.6,
                blocks=0.2,
                calibration_ball=0.25,
            ),
            _V(),
            _S(formats=("dicom", "dicom-mono1", "tiff", "png"), bits=(12, 14, 16)),
        ),
        Family(
            "paeds-deformity",
            "children (open physes, 4–14 years) and severe deformity: varus/valgus to 25°, "
            "leg-length differences to 60 mm, flexed knees, rotated limbs, coxa vara/valga, "
            "guided-growth plates, external fixators, lifts under the short leg, shields",
            _A(
                child=0.6,
                deformity=0.7,
                hka_max_deg=25.0,
                lld=0.7,
                lld_max_mm=60.0,
                flexion=0.25,
                flexion_max_deg=30.0,
                rotation_sd_deg=12.0,
                neck_shaft_deg=(110.0, 155.0),
                anteversion_deg=(0.0, 45.0),
                patella_height_mm=(-15.0, 15.0),
                amputation=0.04,
            ),
            _H(
                fixator=0.1,
                growth_plates=0.3,
                plate=0.05,
                plate_sites=("dfo", "hto"),
                nail=0.03,
                cast=0.05,
                shield=0.5,
            ),
            _Q(exposures=(1, 3), collimation=0.3),
            _P(
                luts=("log", "s-curve", "linear"),
                latitude=(0.2, 0.7),
                unsharp=(0.0, 0.6),
                equalise=0.2,
            ),
            _O(text=0.4, padding=0.1),
            _C(ruler=0.8, ruler_places=RULER_PLACES, markers=0.6, blocks=0.3),
            _V(),
            _S(formats=("dicom", "dicom-mono1", "tiff", "png"), bits=(12, 14, 16)),
        ),
    )
}


def resolve_families(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Validate family names (ValueError naming the unknown ones); keeps the given order."""
    names = tuple(names)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(
            f"unknown famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"choose from {', '.join(FAMILIES)}"
        )
    if not names:
        raise ValueError(f"no family chosen; choose from {', '.join(FAMILIES)}")
    return names
