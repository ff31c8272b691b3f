"""What each decoding / refinement option adds, in mm, on held-out synthetic radiographs.

Options: ``argmax`` (the reference: whole heatmap pixels), ``quadratic`` (sub-pixel
parabola on the log heatmap), ``quadratic + flip`` (test-time horizontal flip averaging,
2× compute). Same model, same images.

    python benchmarks/decoding.py --model default --n 60 --seed 9000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from apn_core.dataset import load_labelled_folder
from apn_core.inference import Predictor
from apn_core.inference.batch import predict_files
from apn_core.inference.evaluate import evaluate
from apn_core.synth import SynthConfig, write_synthetic_folder

OPTIONS = (
    ("argmax", "argmax", False),
    ("quadratic", "quadratic", False),
    ("quadratic + flip", "quadratic", True),
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=9000)
    parser.add_argument("--spacing", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = write_synthetic_folder(
            Path(tmp) / "data", args.n, args.seed, SynthConfig(spacing_mm=args.spacing), workers=2
        )
        folder = load_labelled_folder(data)
        print(
            f"model {args.model}; {len(folder)} held-out synthetic radiographs (seed {args.seed}, {args.spacing} mm/px)"
        )
        print(
            f"{'decoding':<18}{'MRE ± SD (mm)':>15}{'median':>8}{'PCK@10':>8}{'PCK@20':>8}{'occl. MRE':>10}{'ms/img':>8}"
        )
        for label, decoding, flip in OPTIONS:
            p = Predictor.load(args.model, flip_test=flip)
            p.config.decoding = decoding
            t0 = time.perf_counter()
            pred = {
                folder.items[i].labels.image: r.prediction.xy
                for i, r in enumerate(
                    predict_files(p, [it.path for it in folder.items], batch_size=4)
                )
            }
            ms = 1000 * (time.perf_counter() - t0) / len(folder)
            m, _ = evaluate(folder, pred)
            a, occ = m["all"], m.get("occluded", {})
            print(
                f"{label:<18}{a['mre']:>8.2f} ± {a['sd']:<5.2f}{a['median']:>8.2f}{100 * a['pck@10']:>7.1f}%"
                f"{100 * a['pck@20']:>7.1f}%{occ.get('mre', float('nan')):>10.2f}{ms:>8.0f}"
            )


if __name__ == "__main__":
    main()
