"""``apn predict INPUT... --model RUN|default --out DIR``: landmarks for many radiographs.

INPUT: files and/or folders (searched recursively). Writes ``DIR/landmarks.csv``
(image,landmark,x,y,x_mm,y_mm,confidence,present; absent landmarks have empty
coordinates), ``DIR/measurements.csv``, a Slicer ``<stem>.mrk.json`` per image and, with
``--overlays``, ``DIR/overlays/<stem>.png``. Unreadable images are reported and skipped;
re-running skips images already done.
"""

from __future__ import annotations

import argparse
import logging

from apn_core.cli.common import add_model_options, add_spacing_option, progress_bar

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("predict", help="find landmarks in radiographs", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--model", default="default", help="run folder, or 'default' (bundled)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overlays", action="store_true", help="also write overlay PNGs")
    add_model_options(p)
    p.add_argument("--workers", type=int, default=1, help="processes reading images")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    add_spacing_option(p, "for images without spacing (required for them: results are in mm)")
    p.set_defaults(func=run)


def run(args) -> int:
    from apn_core.inference.jobs import run_predict_job

    update, close = progress_bar("predicting", "img")
    try:
        summary = run_predict_job(args.inputs, args.out, args.model, args.spacing, args.overlays, args.batch_size,
                                  args.workers, not args.no_flip, args.device, update)  # fmt: skip
    finally:
        close()
    for s in summary.not_images:
        log.warning("skipped (not an image file): %s", s)
    print(f"{summary.line()} → {summary.out / 'landmarks.csv'}")
    for name, error in summary.failed:
        print(f"  failed: {name}: {error}")
    return 1 if summary.failed and not summary.done and not summary.skipped_done else 0
