"""``apn synth OUT -n N --seed S --spacing MM``: write synthetic long-leg radiographs.

The output is a labelled folder (DICOM incl. MONOCHROME1, TIFF with resolution tags, 8/16-bit
PNG and JPEG with the spacing in ``landmarks.csv``; ``landmarks.csv`` with ``occluded`` and
``spacing_mm`` columns; ``phantoms.jsonl`` with each case's family, anatomy, hardware,
exposure, processing and storage) that ``apn check``, training and evaluation accept.

Cases cycle through the style families (``--list-families``); choose them with
``--families a,b`` or leave some out with ``--exclude-family x`` (the held-out-family
protocol), and change any generator setting with ``--set section.field=value``.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter

from apn_core.annotations import read_landmarks_csv
from apn_core.cli.common import (
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    progress_bar,
)
from apn_core.errors import ApnError
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.synth import SynthConfig, write_synthetic_folder
from apn_core.synth.families import FAMILIES, parse_override
from apn_core.synth.storage import FORMATS

SHOW_AT_MOST = 3


def family_list(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated family names, each known."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r}: unknown or no family; choose from {', '.join(FAMILIES)}"
        )
    return names


def family_name(text: str) -> str:
    """argparse type: one known family name."""
    if "," in text:
        raise argparse.ArgumentTypeError(f"{text!r}: give one family per --exclude-family")
    return family_list(text)[0]


def format_list(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated file formats, each known."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: choose formats from {', '.join(FORMATS)}")
    return names


def setting(text: str) -> tuple[str, object]:
    """argparse type: ``section.field=value``, validated against the generator's fields."""
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: write section.field=value")
    try:
        parse_override(key.strip(), value.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return key.strip(), value.strip()


def register(sub) -> None:
    d = SynthConfig()
    p = sub.add_parser(
        "synth",
        help="generate synthetic labelled radiographs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", nargs="?", help="output folder (must not already hold a landmarks.csv)")
    p.add_argument("-n", type=positive_int, default=1, help="number of images (default 1)")
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="series seed; same seed, same images"
    )
    p.add_argument(
        "--spacing",
        type=positive_float,
        default=d.spacing_mm,
        metavar="MM",
        help=f"pixel spacing in mm (default {d.spacing_mm}: full size ~7300×2800)",
    )
    p.add_argument(
        "--families",
        type=family_list,
        default=d.families,
        metavar="A,B",
        help=f"style families to cycle through (default all: {', '.join(FAMILIES)})",
    )
    p.add_argument(
        "--exclude-family",
        type=family_name,
        action="append",
        default=[],
        metavar="NAME",
        help="leave this family out (repeatable): a training set for the held-out protocol",
    )
    p.add_argument(
        "--list-families", action="store_true", help="describe the style families and exit"
    )
    p.add_argument(
        "--set",
        type=setting,
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="change a generator setting in every family, e.g. hardware.nail=0.5 or "
        "storage.formats=jpeg (repeatable; fields in apn_core.synth.families)",
    )
    for flag, what in (
        ("--hip-prosthesis", "legs with a hip replacement"),
        ("--knee-prosthesis", "legs with a knee replacement"),
        ("--shield", "images with a gonad shield"),
        ("--restricted", "images cropped so some landmarks are outside (0 also: no amputations)"),
    ):
        p.add_argument(
            flag, type=fraction, metavar="F", help=f"fraction of {what} (default: each family's)"
        )
    p.add_argument(
        "--formats",
        type=format_list,
        default=d.formats,
        metavar="A,B",
        help=f"file types allowed: {', '.join(FORMATS)} (default all; each family uses its own)",
    )
    p.add_argument(
        "--noise",
        type=non_negative_float,
        default=d.noise_scale,
        metavar="X",
        help="noise scale (0 = noiseless)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that already holds a landmarks.csv (replacing it)",
    )
    p.add_argument(
        "--workers", type=positive_int, default=min(2, os.cpu_count() or 1), help="processes"
    )
    p.set_defaults(func=run, parser=p)


def print_families() -> None:
    for family in FAMILIES.values():
        print(f"{family.name:<17}{family.summary}")
        print(f"{'':<17}formats: {', '.join(dict.fromkeys(family.storage.formats))}")


def run(args) -> int:
    if args.list_families:
        print_families()
        return 0
    if args.out is None:
        args.parser.error("the following arguments are required: out")
    families = tuple(f for f in args.families if f not in args.exclude_family)
    if not families:
        args.parser.error(f"--exclude-family leaves none of {', '.join(args.families)}")
    try:
        config = SynthConfig(
            spacing_mm=args.spacing,
            hip_prosthesis_fraction=args.hip_prosthesis,
            knee_prosthesis_fraction=args.knee_prosthesis,
            shield_fraction=args.shield,
            restricted_fraction=args.restricted,
            formats=args.formats,
            noise_scale=args.noise,
            families=families,
            overrides=dict(args.set),
        )
    except ValueError as exc:
        raise ApnError(str(exc)) from None
    update, close = progress_bar("rendering", "img")
    try:
        out = write_synthetic_folder(
            args.out, args.n, args.seed, config, args.workers, update, overwrite=args.force
        )
    finally:
        close()
    _summary(out, args, config)
    return 0


def _summary(out, args, config: SynthConfig) -> None:
    labels = read_landmarks_csv(out / "landmarks.csv", DEFAULT_LANDMARKS)
    n_occ = sum(int(lab.occluded.sum()) for lab in labels.values())
    n_abs = sum(int(lab.absent.sum()) for lab in labels.values())
    print(
        f"wrote {args.n} radiograph(s) at {args.spacing} mm/px to {out} "
        f"({n_occ} occluded and {n_abs} absent landmark(s))"
    )
    per_family = Counter(config.families[i % len(config.families)] for i in range(args.n))
    kinds = Counter(name.rsplit(".", 1)[-1] for name in labels)
    print(
        "families: "
        + ", ".join(f"{k} {v}" for k, v in per_family.items())
        + "; files: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
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
