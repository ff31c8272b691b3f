"""Which spacing a radiograph's measurements use when a calibration object is on the film.

The precedence, for one file (``apn predict``, ``apn info``, napari's reader and Batch):

==========================================  ==============================================
the file has a spacing? object found?       measurements use
==========================================  ==============================================
``--override-spacing`` given                the given one (the object is not looked for)
yes, object found, ``--spacing-from dicom``  **the file's**; both are reported, with the
  (the default)                             magnification they imply (file / object)
yes, object found, ``--spacing-from object`` the object's; the note names the file's
yes, no object found                        the file's
no, object found                            the object's (``spacing_source`` ``ruler`` /
                                            ``ball``); with ``--spacing`` given, only
                                            within its plausible magnification
no, no object, ``--spacing`` given          the given one (the fallback, as before)
no, no object, none given                   none: "no calibration object found"
==========================================  ==============================================

A spacing the file carries (its tags, or the ``spacing_mm`` of its folder's
``landmarks.csv``, which counts as its own), else ``--spacing``, bounds the object's: a
reading that would put the object at a magnification outside 0.8–1.3 against it is
refused with a note and counts as no object found.

A DICOM's ``PixelSpacing`` / ``ImagerPixelSpacing`` is at the detector; the object's is
at the object (a ruler at the bone, a ball at the level of the joint), so the two differ
by the magnification and neither replaces the other silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apn_core.calibration_object.choice import ObjectChoice
from apn_core.calibration_object.estimate import (
    MAGNIFICATION,
    CalibrationEstimate,
    estimate_spacing,
    plausible_magnification,
)
from apn_core.io.record import Radiograph
from apn_core.spacing import SPACING_TOLERANCE, Spacing, describe_spacing

log = logging.getLogger(__name__)

NOT_FOUND = "no calibration object found"


@dataclass(frozen=True)
class ObjectSpacing:
    """What the object gave one file: the estimate (or None), the magnification it
    implies against the file's own spacing, and a note for the user."""

    estimate: CalibrationEstimate | None
    magnification: float | None = None
    note: str | None = None
    refused: bool = False  # found, but outside the plausible magnification of a spacing

    def summary_note(self, used: bool) -> str | None:
        """The note without its numbers, so a batch's summary groups the images it
        concerns on one line (the numbers are in each record); None where the file had no
        spacing, or the file's and the object's agree within 1 % (nothing to report).
        ``used``: the object's spacing is the one in use (``--spacing-from object``)."""
        if self.refused:
            return (
                "a calibration object's reading was refused: outside the plausible "
                "magnification of the file's or the given spacing (the reading is in each record)"
            )
        if self.estimate is None or self.magnification is None:
            return None
        if abs(self.magnification - 1.0) <= SPACING_TOLERANCE:
            return None
        kind = self.estimate.object
        if used:
            return f"the {kind}'s spacing is used, not the file's (--spacing-from object; the magnification is in each record)"
        return (
            f"the file's spacing is used; the {kind} on the film gives another (the "
            f"magnification is in each record; --spacing-from object uses the {kind}'s)"
        )

    def as_dict(self) -> dict:
        """The ``calibration`` entry of ``apn info --json`` and of a prediction record."""
        if self.estimate is None:
            out = {"found": False, "note": self.note or NOT_FOUND}
            return {**out, "refused": True} if self.refused else out
        out = {"found": True, **self.estimate.as_dict()}
        if self.magnification is not None:
            out["magnification"] = round(self.magnification, 4)
        if self.note:
            out["note"] = self.note
        return out


def apply_object(
    radiograph: Radiograph,
    choice: ObjectChoice,
    spacing_from: str = "file",
    given: Spacing | None = None,
) -> tuple[Radiograph, ObjectSpacing, bool]:
    """``radiograph`` with the precedence of the module docstring applied (``--spacing``
    and ``--override-spacing`` are the caller's: they come before and after this).

    ``given``: the spacing the user gave for files without their own (``--spacing``).
    The file's own spacing, else ``given``, bounds the reading: a ruler or ball whose
    spacing would imply a magnification outside :data:`MAGNIFICATION` against it is
    refused with a note (a misread object, or the wrong file), never used.

    Returns the radiograph (its spacing and ``spacing_source`` set to the object's where
    the object's is used), what the object gave, and whether the object's spacing is now
    the one in use."""
    if choice.kind == "none":
        return (
            radiograph,
            ObjectSpacing(None, note="not looked for (--calibration-object none)"),
            False,
        )
    own = radiograph.spacing
    bound = own if own is not None else given
    expected = None if bound is None else (bound[0] + bound[1]) / 2
    estimate = estimate_spacing(radiograph.pixels, choice, expected_mm=expected)
    if estimate is None:
        return radiograph, ObjectSpacing(None, note=NOT_FOUND), False
    log.debug("%s: %s", radiograph.path, estimate.describe())
    if expected is not None and not plausible_magnification(expected / estimate.spacing_mm):
        source = (
            f"the file's {describe_spacing(own)} ({radiograph.spacing_source})"
            if own is not None
            else f"the given --spacing {describe_spacing(given)}"
        )
        note = (
            f"the {estimate.object}'s reading {estimate.spacing_mm:.4g} mm/px is refused: "
            f"{source} would put it at a magnification of {expected / estimate.spacing_mm:.3f}, "
            f"outside {MAGNIFICATION[0]:g}–{MAGNIFICATION[1]:g} (a misread {estimate.object}, "
            "or a wrong spacing)"
        )
        log.info("%s: %s", radiograph.path, note)
        return radiograph, ObjectSpacing(None, note=note, refused=True), False
    if own is None:
        used = radiograph.with_spacing(estimate.spacing, estimate.object)
        return used, ObjectSpacing(estimate), True
    magnification = ((own[0] + own[1]) / 2) / estimate.spacing_mm
    if spacing_from == "object":
        note = (
            f"the {estimate.object}'s {estimate.spacing_mm:.4g} mm/px is used; the file's "
            f"{describe_spacing(own)} ({radiograph.spacing_source}) implies a magnification "
            f"of {magnification:.3f} at the {estimate.object}"
        )
        used = radiograph.with_spacing(estimate.spacing, estimate.object, spacing_note=note)
        return used, ObjectSpacing(estimate, magnification, note), True
    note = (
        f"the file's {describe_spacing(own)} ({radiograph.spacing_source}) is used; the "
        f"{estimate.object} gives {estimate.spacing_mm:.4g} mm/px at the {estimate.object} — a "
        f"magnification of {magnification:.3f} (--spacing-from object uses the {estimate.object}'s)"
    )
    return radiograph, ObjectSpacing(estimate, magnification, note), False
