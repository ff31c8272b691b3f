"""Settings of the synthetic generator (one dataclass; every field documented)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class SynthConfig:
    """How synthetic long-leg radiographs are made.

    spacing_mm: detector pixel size; 0.143 gives full-size ~7300×2800 images, 0.5 a
        ~2100×800 image that renders in about a second.
    hip_prosthesis_fraction / knee_prosthesis_fraction: chance per leg of a metal implant
        over the femoral head / knee joint (occludes that landmark).
    shield_fraction: chance of a lead gonad shield over the pelvis.
    restricted_fraction: chance that the field of view is cut so that some landmarks lie
        outside the image (written as absent).
    formats: file types drawn per image, from ``dicom`` (MONOCHROME2), ``dicom-mono1``
        (MONOCHROME1, bone dark as stored) and ``tiff`` (resolution tags in cm).
    noise_scale: multiplies the quantum noise (0 = noiseless).
    """

    spacing_mm: float = 0.143
    hip_prosthesis_fraction: float = 0.15
    knee_prosthesis_fraction: float = 0.15
    shield_fraction: float = 0.15
    restricted_fraction: float = 0.1
    formats: tuple[str, ...] = ("dicom", "dicom-mono1", "tiff")
    noise_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 0.05 <= self.spacing_mm <= 5.0:
            raise ValueError(f"spacing {self.spacing_mm} mm/px is outside 0.05-5")
        for name in (
            "hip_prosthesis_fraction",
            "knee_prosthesis_fraction",
            "shield_fraction",
            "restricted_fraction",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0-1, got {value}")
        unknown = set(self.formats) - {"dicom", "dicom-mono1", "tiff"}
        if unknown or not self.formats:
            raise ValueError(
                f"unknown image format(s) {sorted(unknown)}; use dicom, dicom-mono1, tiff"
            )

    def to_dict(self) -> dict:
        return asdict(self)
