"""``apn demo [--out DIR]``: the main job on the embedded default.

Renders one synthetic long-leg radiograph (with known truth) into DIR/input and runs the
bundled model on it as ``apn predict DIR/input/<file> --out DIR --overlays`` does
(landmarks.csv, measurements.csv, a Slicer .mrk.json, overlays/<file>.png), then prints
the landmarks next to the truth and the alignment.
"""

from __future__ import annotations

import argparse

import numpy as np

from apn_core.cli.common import non_negative_int

DEMO_SEED, DEMO_SPACING = 2024, 0.5


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="run the bundled model on a synthetic radiograph",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", default="demo_out", metavar="DIR", help="output folder (default demo_out)"
    )
    p.add_argument("--model", default="default", help="run folder or 'default' (bundled)")
    p.add_argument(
        "--index", type=non_negative_int, default=0, help="which synthetic case (0, 1, ...)"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from apn_core.annotations import read_landmarks_csv
    from apn_core.inference.jobs import run_predict_job
    from apn_core.inference.outputs import (
        markups_path,
        overlay_path,
        prepare_output_folder,
        read_record,
    )
    from apn_core.inference.overlay import fmt_value
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from apn_core.synth import SynthConfig, write_synthetic_folder

    out = prepare_output_folder(args.out, "apn demo")
    config = SynthConfig(spacing_mm=DEMO_SPACING, restricted_fraction=0.0, formats=("dicom",))
    data = write_synthetic_folder(out / "input", 1, DEMO_SEED + args.index, config, overwrite=True)
    image = next(data.glob("*.dcm"))
    summary = run_predict_job([image], out, args.model, overlays=True, workers=0, redo=True)
    if not summary.done:
        reason = summary.error or "; ".join(error for _, error in summary.failed)
        print(f"apn demo: prediction failed: {reason}")
        return 2
    name = summary.done[0]
    record = read_record(out, name)
    truth = read_landmarks_csv(data / "landmarks.csv", DEFAULT_LANDMARKS)[image.name]
    print(
        f"model {record['model']['name']} on {image} ({DEMO_SPACING} mm/px, {record['spacing_source']})"
    )
    print(f"{'landmark':<13}{'x_mm':>8}{'y_mm':>8}{'conf':>6}  {'error vs truth':>14}")
    for row in record["rows"]:
        name_, conf = row["landmark"], row["confidence"]
        if not row["present"]:
            print(f"{name_:<13}{'absent':>16}{conf:>6.2f}")
            continue
        err = None
        if name_ in DEFAULT_LANDMARKS.names:
            tx, ty = truth.xy[DEFAULT_LANDMARKS.index(name_)]
            err = float(np.hypot(row["x"] - tx, row["y"] - ty) * DEMO_SPACING)
        position = f"{row['x_mm']:>8.1f}{row['y_mm']:>8.1f}"
        print(f"{name_:<13}{position}{conf:>6.2f}  {fmt_value(err, '.2f', ' mm'):>14}")
    for side in ("right", "left"):
        m = record["alignment"].get(side)
        if isinstance(m, dict):
            print(
                f"{side} leg: HKA {fmt_value(m['hka_deg'], '+.1f', '°')} (+ varus), "
                f"MAD {fmt_value(m['mad_mm'], '+.1f', ' mm')}, length {fmt_value(m['length_mm'], '.0f', ' mm')}"
            )
    written = [*summary.written, markups_path(out, name), overlay_path(out, name)]
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0
