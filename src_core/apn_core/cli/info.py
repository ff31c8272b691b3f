"""``apn info FILE [--json]``: size, dtype, photometric, spacing and its source."""

from __future__ import annotations

import json

from apn_core.cli.common import add_spacing_option
from apn_core.io import read_radiograph

FIELDS = (
    "format",
    "rows",
    "cols",
    "stored_dtype",
    "photometric",
    "spacing_mm",
    "spacing_source",
    "size_mm",
    "modality",
    "transfer_syntax",
    "bits_stored",
)


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a radiograph file", description=__doc__)
    p.add_argument("file", help="DICOM, TIFF, PNG or JPEG file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_spacing_option(p, "to use instead of the file's")
    p.set_defaults(func=run)


def run(args) -> int:
    kwargs = (
        {"spacing": args.spacing, "spacing_source": "given (--spacing)"} if args.spacing else {}
    )
    summary = read_radiograph(args.file, **kwargs).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(summary["file"])
    for key in FIELDS:
        if key in summary:
            value = summary[key]
            if key == "spacing_mm" and value is None:
                value = "unknown (pass --spacing MM to measure in mm)"
            print(f"  {key:<16}{value}")
    return 0
