"""Synthetic standing AP long-leg radiographs with exact landmark ground truth.

A case is drawn from a style family (:mod:`.families`) in named, independent random streams
(:mod:`.draws`). Anatomy is sampled in millimetres (:mod:`.anatomy`) and drawn as analytic
3-D solids around the landmarks, which follow written-down definitions
(:mod:`.definitions`, :mod:`.bones`); hardware (:mod:`.hardware`) and accessories
(:mod:`.accessories`) join them; X-ray line integrals are evaluated on the detector grid
(:mod:`.projection`, :mod:`.phantom`, field of view in :mod:`.view`), then pass through the
detector (:mod:`.acquisition`), the display processing (:mod:`.processing`), burned-in
overlays (:mod:`.overlays`) and storage (:mod:`.storage`). :mod:`.generate` ties it together.
"""

from apn_core.synth.config import SynthConfig
from apn_core.synth.families import FAMILIES
from apn_core.synth.generate import SynthCase, generate_case, write_synthetic_folder

__all__ = ["FAMILIES", "SynthCase", "SynthConfig", "generate_case", "write_synthetic_folder"]
