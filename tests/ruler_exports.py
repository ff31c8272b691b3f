"""The synthetic films of the ruler-reading tests: 8-bit JPEG exports at 1 mm/px with a
ruler beside a leg (no DICOM spacing, so the ruler is all there is to measure by)."""

from __future__ import annotations

from apn_core.synth.config import SynthConfig


def jpeg_exports_with_ruler() -> SynthConfig:
    """Every film a JPEG export with a whole 5 mm or numbered ruler left or right."""
    return SynthConfig(
        spacing_mm=1.0,
        families=("export-8bit",),
        restricted_fraction=0.0,
        overrides={
            "storage.formats": "jpeg",
            "accessories.ruler": 1.0,
            "accessories.ruler_places": "left,right",
            "accessories.ruler_partial": 0.0,
            "accessories.ruler_styles": "5mm,numbered",
        },
    )
