"""``apn predict INPUT... --model RUN|default --out DIR``: landmarks for many radiographs.

INPUT: files and/or folders (searched recursively; hidden files, the output folder and
folders holding an ``.apn-output`` marker are skipped). Each image's output name is its
path relative to its INPUT folder (or its file name), extension kept; with several
INPUTs it is prefixed by the INPUT's name (``A/case1.dcm``, ``B/case1.dcm``).

Writes DIR/landmarks.csv (image,landmark,x,y,x_mm,y_mm,confidence,present,needs_review,
review_reason,spacing_mm,spacing_source; absent landmarks have empty coordinates), DIR/measurements.csv
(empty cells, with a note, where a landmark is absent or needs review), a Slicer
DIR/<name>.mrk.json per image, with --overlays DIR/overlays/<name>.png, with --sr (DICOM
inputs only; the [dicom] extra) a DICOM SR and presentation state DIR/dicom/<name>.sr.dcm and
.pr.dcm, and DIR/predictions/<name>.json (what a re-run checks). The summary counts the
images that need review.

--dicomweb URL with a query (--study UID..., or --study-date/--modality) instead of INPUTs:
retrieve the images from a PACS (WADO-RS) into DIR/retrieved/, predict them with --sr, and
store each SR and presentation state back into its study (STOW-RS) unless it is already
there. Passwords and tokens come from environment variables, never from the command line.

Pixel spacing: the file's own; for a PNG/JPEG, the spacing_mm its folder's landmarks.csv
gives it; else a ruler (or, with --calibration-object ball:25mm, a ball) found on the film;
else --spacing. Where the file has a spacing and the object gives one too, both are
reported (--spacing-from object uses the object's); --override-spacing replaces them all.

Re-running the same command skips images whose result was made from the same file, model
(weights and calibration SHA-256) and options; the others are predicted again and the
summary says why. The tables cover every result in DIR: a second command into DIR adds its
images to the first's. DIR may not be an input folder nor a labelled folder (one holding a
landmarks.csv apn predict did not write), and one command writes it at a time (another
is refused).
Unreadable images are reported and skipped. Exit code: 0 all done, 1 some images failed,
2 nothing could be done (or the output folder could not be written).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from apn_core.cli import pacs
from apn_core.cli.common import (
    add_calibration_object_options,
    add_model_options,
    add_override_spacing_option,
    add_spacing_option,
    device_arg,
    non_negative_int,
    progress_bar,
)

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="find landmarks in radiographs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image files or folders")
    p.add_argument("--model", default="default", help="run folder, or 'default' (bundled)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--overlays", action="store_true", help="also write overlay PNGs")
    p.add_argument(
        "--redo", action="store_true", help="predict every image again, replacing stored results"
    )
    add_model_options(p)
    p.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="a calibration.json (apn calibrate --out) instead of the one beside the model",
    )
    p.add_argument(
        "--workers", type=non_negative_int, default=1, metavar="N", help="processes reading images"
    )
    p.add_argument("--device", type=device_arg, default="cpu", help="cpu, cuda or cuda:N")
    add_spacing_option(p)
    add_override_spacing_option(p)
    add_calibration_object_options(p)
    p.add_argument(
        "--sr",
        action="store_true",
        help="also a DICOM SR (TID 1500) and presentation state per DICOM image, in DIR/dicom/",
    )
    pacs.add_options(p)
    p.set_defaults(func=run, parser=p)


def run(args) -> int:
    if args.calibration is not None:  # a FIFO, /dev/zero or deep JSON: refused before torch loads
        from apn_core.utils.files import MAX_TABLE_BYTES, read_json

        read_json(args.calibration, "calibration file", MAX_TABLE_BYTES)
    from apn_core.inference.jobs import run_predict_job

    if args.dicomweb:
        return pacs.run(args, run)
    if not args.inputs:
        args.parser.error("give INPUT files or folders, or --dicomweb URL")

    update, close = progress_bar("predicting", "img")
    try:
        summary = run_predict_job(
            args.inputs,
            args.out,
            args.model,
            args.spacing,
            args.overlays,
            args.batch_size,
            args.workers,
            not args.no_flip,
            args.device,
            update,
            override_spacing=args.override_spacing,
            redo=args.redo,
            calibration=args.calibration,
            sr=args.sr,
            calibration_object=args.calibration_object,
            spacing_from=args.spacing_from,
        )
    finally:
        close()
    for s in summary.not_images:
        log.warning("skipped (not an image file): %s", s)
    print(summary.line())
    for line in summary.details():
        print(line)
    if summary.written:
        extra = f", {len(summary.done)} new .mrk.json" if summary.done else ""
        overlays = (
            f" and overlay(s) in {summary.out / 'overlays'}"
            if args.overlays and summary.done
            else ""
        )
        mine = len(summary.done) + len(summary.skipped_done)
        earlier = summary.table_images - mine
        cover = (
            f" ({summary.table_images} images, {earlier} from earlier commands)"
            if earlier > 0
            else ""
        )
        print(f"wrote {', '.join(str(p) for p in summary.written)}{cover}{extra}{overlays}")
    elif summary.done or summary.skipped_done:
        print(f"the tables in {summary.out} were not written (see the error below)")
    else:
        print(f"wrote no tables: {summary.out} holds no result")
    if summary.dicom is not None:
        print(
            f"{summary.dicom.written} SR + presentation state(s) written, "
            f"{len(summary.dicom.outputs) - summary.dicom.written} kept, in {summary.out / 'dicom'}"
        )
    if summary.error:
        print(f"apn: error: {summary.error}", file=sys.stderr)
    return summary.exit_code()
