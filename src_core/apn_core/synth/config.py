"""Settings of the synthetic generator (one dataclass; every field documented)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property

from apn_core.synth.families import FAMILIES, Family, parse_override, resolve_families
from apn_core.synth.storage import FORMATS

LEGACY = {  # the older per-case fractions, as generator settings
    "hip_prosthesis_fraction": "hardware.hip_replacement",
    "knee_prosthesis_fraction": "hardware.knee_replacement",
    "shield_fraction": "hardware.shield",
    "restricted_fraction": "view.restricted",
}


@dataclass
class SynthConfig:
    """How synthetic long-leg radiographs are made.

    spacing_mm: detector pixel size; 0.143 gives full-size ~7300×2800 images, 0.5 a
        ~2100×800 image.
    families: the style families drawn from (``apn_core.synth.families.FAMILIES``; all by
        default); case *i* belongs to ``families[i % len(families)]``.
    hip_prosthesis_fraction / knee_prosthesis_fraction: chance per leg of a hip / knee
        replacement (over the femoral head / knee centre); None = each family's own rate.
    shield_fraction: chance of a lead gonad shield over the pelvis; None = the family's.
    restricted_fraction: chance that the field of view is cut so that some landmarks lie
        outside the image (written as absent); None = the family's. 0 also switches
        amputations off, so every landmark is in the image (demo, sample data).
    formats: file types allowed, from ``dicom`` (MONOCHROME2), ``dicom-mono1`` (MONOCHROME1,
        bone dark as stored), ``tiff`` (resolution tags in cm), ``png`` and ``jpeg`` (no
        spacing in the file: it goes to ``landmarks.csv``'s ``spacing_mm``); each family
        draws from its own formats that are allowed here (or from these when none is).
    noise_scale: multiplies the quantum and electronic noise (0 = noiseless).
    overrides: ``{"section.field": value}`` applied to every family after the fractions
        above, e.g. ``{"hardware.nail": 1.0, "storage.formats": "jpeg"}`` (see each priors
        class in :mod:`apn_core.synth.families` for the fields).
    """

    spacing_mm: float = 0.143
    hip_prosthesis_fraction: float | None = None
    knee_prosthesis_fraction: float | None = None
    shield_fraction: float | None = None
    restricted_fraction: float | None = None
    formats: tuple[str, ...] = FORMATS
    noise_scale: float = 1.0
    families: tuple[str, ...] = tuple(FAMILIES)
    overrides: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.05 <= self.spacing_mm <= 5.0:
            raise ValueError(f"spacing {self.spacing_mm} mm/px is outside 0.05-5")
        for name in LEGACY:
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0-1, got {value}")
        self.formats = tuple(self.formats)
        unknown = set(self.formats) - set(FORMATS)
        if unknown or not self.formats:
            raise ValueError(f"unknown image format(s) {sorted(unknown)}; use {', '.join(FORMATS)}")
        if self.noise_scale < 0:
            raise ValueError(f"noise_scale must be 0 or more, got {self.noise_scale}")
        self.families = resolve_families(self.families)
        for key, value in self.overrides.items():
            parse_override(key, value)  # raises ValueError naming a bad key or value

    def settings(self) -> dict[str, object]:
        """The generator settings applied to every family (fractions, then overrides)."""
        out: dict[str, object] = {}
        for name, key in LEGACY.items():
            value = getattr(self, name)
            if value is not None:
                out[key] = value
        if self.restricted_fraction == 0:
            out["anatomy.amputation"] = 0.0
        out.update(self.overrides)
        return out

    @cached_property
    def _resolved(self) -> dict[str, Family]:
        settings = self.settings()
        return {name: FAMILIES[name].with_overrides(settings) for name in self.families}

    def family_for(self, index: int) -> Family:
        """The family (with this config's settings applied) of case ``index``."""
        return self._resolved[self.families[index % len(self.families)]]

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("_resolved", None)
        return d
