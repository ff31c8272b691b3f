"""``apn synth OUT -n N --seed S --spacing MM``: write synthetic long-leg radiographs.

The output is a labelled folder (DICOM incl. MONOCHROME1, and TIFF with resolution tags;
``landmarks.csv`` with an ``occluded`` column; ``phantoms.jsonl`` with each case's
anatomy, implants and acquisition) that ``apn check``, training and evaluation accept.
"""

from __future__ import annotations

import os

from apn_core.annotations import read_landmarks_csv
from apn_core.cli.common import progress_bar
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.synth import SynthConfig, write_synthetic_folder

SHOW_AT_MOST = 3


def register(sub) -> None:
    d = SynthConfig()
    p = sub.add_parser("synth", help="generate synthetic labelled radiographs", description=__doc__)
    p.add_argument("out", help="output folder (must not already hold a landmarks.csv)")
    p.add_argument("-n", type=int, default=1, help="number of images (default 1)")
    p.add_argument("--seed", type=int, default=0, help="series seed; same seed, same images")
    p.add_argument(
        "--spacing",
        type=float,
        default=d.spacing_mm,
        metavar="MM",
        help=f"pixel spacing in mm (default {d.spacing_mm}: full size ~7300×2800)",
    )
    p.add_argument(
        "--hip-prosthesis",
        type=float,
        default=d.hip_prosthesis_fraction,
        metavar="F",
        help="fraction of legs with a hip prosthesis",
    )
    p.add_argument(
        "--knee-prosthesis",
        type=float,
        default=d.knee_prosthesis_fraction,
        metavar="F",
        help="fraction of legs with a knee prosthesis",
    )
    p.add_argument(
        "--shield",
        type=float,
        default=d.shield_fraction,
        metavar="F",
        help="fraction of images with a gonad shield",
    )
    p.add_argument(
        "--restricted",
        type=float,
        default=d.restricted_fraction,
        metavar="F",
        help="fraction of images cropped so some landmarks are outside",
    )
    p.add_argument(
        "--formats",
        default=",".join(d.formats),
        help="comma-separated file types to draw from: dicom, dicom-mono1, tiff",
    )
    p.add_argument(
        "--noise", type=float, default=d.noise_scale, metavar="X", help="quantum noise scale"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that already holds a landmarks.csv (replacing it)",
    )
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.n < 1:
        raise SystemExit("apn synth: error: -n must be at least 1")
    try:
        config = SynthConfig(
            spacing_mm=args.spacing,
            hip_prosthesis_fraction=args.hip_prosthesis,
            knee_prosthesis_fraction=args.knee_prosthesis,
            shield_fraction=args.shield,
            restricted_fraction=args.restricted,
            formats=tuple(f.strip() for f in args.formats.split(",") if f.strip()),
            noise_scale=args.noise,
        )
    except ValueError as exc:
        raise SystemExit(f"apn synth: error: {exc}") from None
    update, close = progress_bar("rendering", "img")
    try:
        out = write_synthetic_folder(
            args.out, args.n, args.seed, config, args.workers, update, overwrite=args.force
        )
    finally:
        close()
    labels = read_landmarks_csv(out / "landmarks.csv", DEFAULT_LANDMARKS)
    n_occ = sum(int(lab.occluded.sum()) for lab in labels.values())
    n_abs = sum(int(lab.absent.sum()) for lab in labels.values())
    print(
        f"wrote {args.n} radiograph(s) at {args.spacing} mm/px to {out} "
        f"({n_occ} occluded and {n_abs} out-of-view landmark(s))"
    )
    print(f"{'image':<24}{'landmark':<13}{'x':>9}{'y':>9}{'x_mm':>9}{'y_mm':>9}  status")
    for lab in list(labels.values())[:SHOW_AT_MOST]:
        for i, name in enumerate(DEFAULT_LANDMARKS.names):
            x, y = lab.xy[i]
            status = "absent" if lab.absent[i] else ("occluded" if lab.occluded[i] else "visible")
            if lab.present[i]:
                print(
                    f"{lab.image:<24}{name:<13}{x:9.1f}{y:9.1f}{x * args.spacing:9.1f}"
                    f"{y * args.spacing:9.1f}  {status}"
                )
            else:
                print(f"{lab.image:<24}{name:<13}{'':>9}{'':>9}{'':>9}{'':>9}  {status}")
    if len(labels) > SHOW_AT_MOST:
        print(f"... and {len(labels) - SHOW_AT_MOST} more in {out / 'landmarks.csv'}")
    return 0
