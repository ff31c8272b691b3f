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
                                            ``ball``)
no, no object, ``--spacing`` given          the given one (the fallback, as before)
no, no object, none given                   none: "no calibration object found"
==========================================  ==============================================

A DICOM's ``PixelSpacing`` / ``ImagerPixelSpacing`` is at the detector; the object's is
at the object (a ruler at the bone, a ball at the level of the joint), so the two differ
by the magnification and neither replaces the other silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apn_core.calibration_object.choice import ObjectChoice
from apn_core.calibration_object.estimate import CalibrationEstimate, estimate_spacing
from apn_core.io.record import Radiograph
from apn_core.spacing import SPACING_TOLERANCE, describe_spacing

log = logging.getLogger(__name__)

NOT_FOUND = "no calibration object found"


@dataclass(frozen=True)
class ObjectSpacing:
    """What the object gave one file: the estimate (or None), the magnification it
    implies against the file's own spacing, and a note for the user."""

    estimate: CalibrationEstimate | None
    magnification: float | None = None
    note: str | None = None

    def summary_note(self, used: bool) -> str | None:
        """The note without its numbers, so a batch's summary groups the images it
        concerns on one line (the numbers are in each record); None where the file had no
        spacing, or the file's and the object's agree within 1 % (nothing to report).
        ``used``: the object's spacing is the one in use (``--spacing-from object``)."""
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
            return {"found": False, "note": self.note or NOT_FOUND}
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
) -> tuple[Radiograph, ObjectSpacing, bool]:
    """``radiograph`` with the precedence of the module docstring applied (``--spacing``
    and ``--override-spacing`` are the caller's: they come before and after this).

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
    expected = None if own is None else (own[0] + own[1]) / 2
    estimate = estimate_spacing(radiograph.pixels, choice, expected_mm=expected)
    if estimate is None:
        return radiograph, ObjectSpacing(None, note=NOT_FOUND), False
    log.debug("%s: %s", radiograph.path, estimate.describe())
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
