"""Pixel spacing from a calibration object on the film: a radiopaque ruler or a metal
sphere of known diameter.

:func:`estimate_spacing` is the one entry point (:mod:`.estimate`); :mod:`.ruler` and
:mod:`.ball` find and measure each object, :mod:`.spectrum` holds the periodicity helpers,
:mod:`.choice` parses ``--calibration-object`` / ``--spacing-from``, :mod:`.resolve`
applies the precedence between a file's own spacing and the object's.
"""

from apn_core.calibration_object.choice import ObjectChoice, parse_spacing_from
from apn_core.calibration_object.estimate import CalibrationEstimate, estimate_spacing

__all__ = ["CalibrationEstimate", "ObjectChoice", "estimate_spacing", "parse_spacing_from"]
