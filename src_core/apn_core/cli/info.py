"""``apn info FILE [--json]``: size, dtype, photometric, spacing and its source.

A ruler or calibration ball on the film (``--calibration-object``, default ``auto``: a
ruler) gives the spacing at the object where the file has none (``spacing_source`` then
says ``ruler`` or ``ball``); where the file has one too, both are shown with the
magnification they imply (``--spacing-from object`` uses the object's).

Text from the file (DICOM tags, names) is printed with control characters escaped, so a
crafted file cannot move the cursor, recolour or rewrite the terminal.
"""

from __future__ import annotations

import json

from apn_core.calibration_object import ObjectChoice
from apn_core.calibration_object.resolve import apply_object
from apn_core.cli.common import add_calibration_object_options, add_spacing_option
from apn_core.errors import escape_controls
from apn_core.io import read_radiograph
from apn_core.spacing import spacings_disagree

FIELDS = (
    "format",
    "rows",
    "cols",
    "stored_dtype",
    "photometric",
    "spacing_mm",
    "spacing_source",
    "spacing_given_mm",
    "spacing_note",
    "size_mm",
    "calibration",
    "modality",
    "transfer_syntax",
    "bits_stored",
)


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a radiograph file", description=__doc__)
    p.add_argument("file", help="DICOM, TIFF, PNG or JPEG file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_spacing_option(p, "shown beside the file's own")
    add_calibration_object_options(p)
    p.set_defaults(func=run)


def printable(value) -> str:
    """``str(value)`` with every non-printable character (ESC, newlines, bidi controls)
    written as its escape (``\\x1b``, ``\\n``, ``\\u202e``; a file name's byte that is not
    UTF-8 as ``\\xNN``): :func:`apn_core.errors.escape_controls`."""
    return escape_controls(str(value))


def run(args) -> int:
    radiograph = read_radiograph(args.file)  # the file's own spacing; --spacing is a fallback
    objects = getattr(args, "calibration_object", None) or ObjectChoice("auto")
    given = args.spacing
    radiograph, found, by_object = apply_object(
        radiograph, objects, getattr(args, "spacing_from", "file"), given=given
    )
    note = None
    if given is not None:
        own = radiograph.spacing
        if own is None:
            radiograph = radiograph.with_spacing(given, "given (--spacing; the file has none)")
        elif spacings_disagree(own, given):
            whose = f"the {radiograph.spacing_source}'s" if by_object else "the file's"
            where = "on the film" if by_object else f"own ({radiograph.spacing_source})"
            note = (
                f"--spacing {list(given)} differs from {whose} {where}, {list(own)}, by more "
                f"than 1 %; {whose} is used"
            )
    summary = radiograph.summary()
    summary["calibration"] = found.as_dict()
    if given is not None:
        summary["spacing_given_mm"] = list(given)
        if note:
            summary["spacing_note"] = note
    if args.json:
        print(json.dumps(summary, indent=2))  # JSON escapes control characters itself
        return 0
    print(printable(summary["file"]))
    for key in FIELDS:
        if key in summary:
            value = summary[key]
            if key == "spacing_mm" and value is None:
                value = "unknown (pass --spacing MM to measure in mm)"
            if key == "calibration":
                value = _calibration_text(found)
            print(f"  {key:<17} {printable(value)}")
    return 0


def _calibration_text(found) -> str:
    """``ruler: 1.323 ± 0.0004 mm/px (…) at rows …; magnification 1.10`` or why none."""
    if found.estimate is None:
        return found.note or "no calibration object found"
    text = found.estimate.describe()
    if found.magnification is not None:
        text += f"; magnification {found.magnification:.3f} against the file's"
    return text
