"""Synthetic standing AP long-leg radiographs with exact landmark ground truth.

Anatomy is sampled in millimetres (:mod:`.anatomy`), turned into analytic 3-D shapes
(:mod:`.phantom`) whose X-ray line integrals are evaluated on the detector grid
(:mod:`.projection`), then passed through a detector model (:mod:`.acquisition`).
"""

from apn_core.synth.config import SynthConfig
from apn_core.synth.generate import SynthCase, generate_case, write_synthetic_folder

__all__ = ["SynthCase", "SynthConfig", "generate_case", "write_synthetic_folder"]
