"""``apn demo [--out DIR]``: the main job on the embedded default.

Renders one synthetic long-leg radiograph (with known truth) and runs the bundled model
on it, writing what ``apn predict`` writes (landmarks, measurements, Slicer markups, an
overlay picture), then prints the landmarks next to the truth and the alignment.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DEMO_SEED, DEMO_SPACING = 2024, 0.5


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the bundled model on a synthetic radiograph", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    p.add_argument("--model", default="default", help="run folder or 'default' (bundled)")
    p.add_argument("--index", type=int, default=0, help="which synthetic case")
    p.set_defaults(func=run)


def run(args) -> int:
    from apn_core.inference import Predictor
    from apn_core.inference.outputs import save_image_outputs, write_tables
    from apn_core.inference.overlay import write_overlay
    from apn_core.io import read_radiograph
    from apn_core.synth import SynthConfig, write_synthetic_folder

    out = Path(args.out)
    config = SynthConfig(spacing_mm=DEMO_SPACING, restricted_fraction=0.0, formats=("dicom",))
    data = write_synthetic_folder(out / "input", 1, DEMO_SEED + args.index, config, overwrite=True)
    image = next(data.glob("*.dcm"))
    predictor = Predictor.load(args.model)
    result = predictor.predict_file(image)
    save_image_outputs(out, image.name, result, predictor.config.landmarks)
    write_tables(out)
    write_overlay(out / "overlay.png", read_radiograph(image).pixels, result)
    from apn_core.annotations import read_landmarks_csv

    truth = read_landmarks_csv(data / "landmarks.csv", predictor.config.landmarks)[image.name]
    print(f"model {predictor.name} on {image} ({result.image_shape[0]}×{result.image_shape[1]} px, "
          f"{DEMO_SPACING} mm/px, {result.spacing_source})")  # fmt: skip
    print(f"{'landmark':<13}{'x_mm':>8}{'y_mm':>8}{'conf':>6}  {'error vs truth':>14}")
    for i, name in enumerate(result.names):
        if not result.present[i]:
            print(f"{name:<13}{'absent':>16}{result.confidence[i]:>6.2f}")
            continue
        err = float(np.hypot(*((result.xy[i] - truth.xy[i]) * DEMO_SPACING)))
        print(
            f"{name:<13}{result.xy_mm[i, 0]:>8.1f}{result.xy_mm[i, 1]:>8.1f}{result.confidence[i]:>6.2f}  {err:>11.2f} mm"
        )
    for side in ("right", "left"):
        m = result.alignment.get(side)
        if m:
            print(
                f"{side} leg: HKA {m['hka_deg']:+.1f}° (+ varus), MAD {m['mad_mm']:+.1f} mm, length {m['length_mm']:.0f} mm"
            )
    print(f"wrote {out / 'landmarks.csv'}, {out / 'measurements.csv'}, {out / (image.stem + '.mrk.json')}, "
          f"{out / 'overlay.png'}")  # fmt: skip
    return 0
