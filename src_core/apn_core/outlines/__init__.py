"""Landmarks derived from bone outlines (femur and tibia polygons drawn by hand)."""

from apn_core.outlines.derive import LegLandmarks, OutlineError, derive_leg

__all__ = ["LegLandmarks", "OutlineError", "derive_leg"]
