"""``apn evaluate DATA --model RUN|default`` (or ``--pred landmarks.csv``): accuracy in mm.

Prints MRE ± SD, median and PCK@thresholds overall, per landmark and for occluded
landmarks; counts absent landmarks reported present. Writes ``evaluation.json``,
``errors.csv`` and ``error_cdf.png`` to ``--out`` (default: DATA/evaluation).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from apn_core.cli.common import (
    add_landmarks_option,
    add_model_options,
    add_spacing_option,
    load_landmarks,
    progress_bar,
)


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy of a model on a labelled folder", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("data", help="labelled folder with the truth")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", default="default", help="run folder or 'default' (bundled)")
    src.add_argument(
        "--pred", type=Path, help="landmarks.csv written by 'apn predict' instead of a model"
    )
    p.add_argument("--out", type=Path, help="report folder (default DATA/evaluation)")
    p.add_argument("--thresholds", default="10,20", help="PCK thresholds in mm (default 10,20)")
    add_model_options(p)
    add_spacing_option(p, "for images that carry none")
    add_landmarks_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from apn_core.dataset import load_labelled_folder
    from apn_core.inference.evaluate import evaluate, predictions_from_csv, write_report

    thresholds = tuple(float(t) for t in args.thresholds.split(","))
    landmarks = load_landmarks(args.landmarks)
    folder = load_labelled_folder(args.data, landmarks, args.spacing)
    folder.raise_for_errors()
    if args.pred is not None:
        predicted = predictions_from_csv(args.pred, folder)
        source = str(args.pred)
    else:
        from apn_core.inference import Predictor
        from apn_core.inference.batch import predict_files

        predictor = Predictor.load(args.model, flip_test=not args.no_flip)
        source = predictor.name
        predicted = {}
        update, close = progress_bar("predicting", "img")
        try:
            by_path = {item.path: item for item in folder.items}
            for n, res in enumerate(
                predict_files(predictor, list(by_path), args.spacing, args.batch_size), start=1
            ):
                if res.prediction is not None:
                    predicted[by_path[res.path].labels.image] = res.prediction.xy
                update(n, len(by_path))
        finally:
            close()
    metrics, rows = evaluate(folder, predicted, thresholds)
    out = args.out or Path(args.data) / "evaluation"
    metrics["model"] = source
    write_report(out, metrics, rows, thresholds)
    print_table(metrics, landmarks.names, thresholds)
    print(f"report: {out / 'evaluation.json'}, {out / 'errors.csv'}, {out / 'error_cdf.png'}")
    return 0


def print_table(metrics: dict, names, thresholds) -> None:
    pck = [f"PCK@{t:g}" for t in thresholds]
    print(
        f"{'landmarks':<13}{'n':>6}{'MRE ± SD (mm)':>17}{'median':>8}"
        + "".join(f"{p:>10}" for p in pck)
    )
    for key in ("all", *names, "occluded"):
        m = metrics.get(key)
        if not m or not m.get("n"):
            continue
        cells = "".join(f"{100 * m[f'pck@{t:g}']:>9.1f}%" for t in thresholds)
        print(f"{key:<13}{m['n']:>6}{m['mre']:>9.2f} ± {m['sd']:<5.2f}{m['median']:>8.2f}{cells}")
    c = metrics["counts"]
    print(f"absent landmarks reported present: {c['absent_reported_present']} of {c['absent']}; "
          f"present landmarks reported absent: {c['present_reported_absent']} of {c['present']}")  # fmt: skip
