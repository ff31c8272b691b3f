"""Accuracy of a model under perturbations of held-out labelled images (issue 11.4).

For each row of ``perturbations.PERTURBATIONS`` (and the unperturbed baseline) every image
is perturbed in memory (landmarks moved with it; landmarks pushed out of the image count
as absent), predicted with ``Predictor.predict`` (flip test on), and scored by the same
function as ``apn evaluate``: MRE and PCK@10 over the present landmarks the model reported,
and present landmarks reported absent (and absent ones reported present).

    apn synth data/heldout -n 40 --seed 5000 --spacing 1.0
    python benchmarks/robustness.py data/heldout --model default -n 40 --out runs/robustness

prints a Markdown table and writes ``robustness.json`` and ``robustness.csv`` to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels
from apn_core.dataset import LabelledFolder, load_labelled_folder
from apn_core.dataset.folder import LabelledImage
from apn_core.inference import Predictor
from apn_core.inference.evaluate import evaluate
from apn_core.perturbations import PERTURBATIONS, load_samples, perturb
from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.csv_cells import csv_text
from apn_core.utils.json_safe import json_safe

BASELINE = "none"


def run_row(predictor: Predictor, samples: list, name: str, landmarks) -> dict:
    """Metrics of one perturbation over ``samples`` ((image, Sample) pairs)."""
    items, predicted = [], {}
    wrong = wrong_flagged = right = right_flagged = 0
    start = time.perf_counter()
    for i, (image, s) in enumerate(samples):
        t = s if name == BASELINE else perturb(name, s, seed=i)
        labels = ImageLabels(image, t.xy, t.annotated, spacing=t.spacing)
        items.append(LabelledImage(Path(image), labels, t.pixels.shape, t.spacing, "benchmark"))
        pred = predictor.predict(t.pixels, t.spacing)
        predicted[image] = pred.xy
        # the review flag on reported landmarks that are in the image: errors > 10 mm it
        # catches, and correct landmarks it flags
        mm = np.broadcast_to(np.asarray(t.spacing, float), (2,))[::-1]  # (row, col) → (x, y)
        truth = np.asarray(t.annotated, bool) & np.isfinite(t.xy).all(axis=1)
        scored = truth & pred.present
        error = np.linalg.norm((pred.xy - t.xy) * mm, axis=1)
        flags = np.asarray(pred.needs_review, bool)
        bad = scored & (error > 10.0)
        wrong += int(bad.sum())
        wrong_flagged += int((bad & flags).sum())
        right += int((scored & ~bad).sum())
        right_flagged += int((scored & ~bad & flags).sum())
    folder = LabelledFolder(root=Path("."), landmarks=landmarks, items=items)
    metrics, _ = evaluate(folder, predicted, (10.0, 20.0))
    a, c = metrics["all"], metrics["counts"]
    return {
        "perturbation": name,
        "images": len(samples),
        "landmarks": a.get("n", 0),
        "mre_mm": a.get("mre", float("nan")),
        "median_mm": a.get("median", float("nan")),
        "pck10": a.get("pck@10", float("nan")),
        "present": c["present"],
        "present_reported_absent": c["present_reported_absent"],
        "absent": c["absent"],
        "absent_reported_present": c["absent_reported_present"],
        "errors_over_10mm": wrong,
        "errors_flagged": wrong_flagged,
        "correct": right,
        "correct_flagged": right_flagged,
        "seconds": time.perf_counter() - start,
    }


def markdown(rows: list[dict], model: str, data: Path) -> str:
    lines = [
        f"Model `{model}` on {rows[0]['images']} images of `{data}`:",
        "",
        "| perturbation | MRE (mm) | median (mm) | PCK@10 | present reported absent | absent reported present "
        "| errors > 10 mm flagged | correct flagged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def num(x: float, fmt: str) -> str:
        return format(x, fmt) if np.isfinite(x) else "–"

    for r in rows:
        lines.append(
            f"| {r['perturbation']} | {num(r['mre_mm'], '.2f')} | {num(r['median_mm'], '.2f')} | {num(100 * r['pck10'], '.1f')} % "
            f"| {r['present_reported_absent']} of {r['present']} | {r['absent_reported_present']} of {r['absent']} "
            f"| {r['errors_flagged']} of {r['errors_over_10mm']} | {r['correct_flagged']} of {r['correct']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path, help="labelled folder of held-out images")
    parser.add_argument("--model", default="default", help="run folder or bundled key")
    parser.add_argument("-n", type=int, default=40, help="first N images (default 40)")
    parser.add_argument("--only", nargs="+", choices=list(PERTURBATIONS), help="these rows only")
    parser.add_argument("--out", type=Path, default=Path("runs/robustness"), help="report folder")
    parser.add_argument("--no-flip", action="store_true", help="skip the test-time flip")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    args = parser.parse_args()

    predictor = Predictor.load(args.model, device=args.device, flip_test=not args.no_flip)
    folder = load_labelled_folder(args.data, predictor.config.landmarks)
    folder.raise_for_errors()
    samples = list(load_samples(folder, args.n))
    rows = []
    for name in [BASELINE, *(args.only or PERTURBATIONS)]:
        rows.append(run_row(predictor, samples, name, predictor.config.landmarks))
        print(f"{name}: {rows[-1]['seconds']:.1f} s", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "model": predictor.name,
        "data": str(args.data),
        "flip_test": not args.no_flip,
        "rows": rows,
    }
    write_text_atomic(args.out / "robustness.json", json.dumps(json_safe(report), indent=2))
    columns = list(rows[0])
    cells = [
        [f"{v:.4f}" if isinstance(v, float) and np.isfinite(v) else v for v in r.values()]
        for r in rows
    ]
    write_text_atomic(args.out / "robustness.csv", csv_text([columns, *cells]))
    print(markdown(rows, predictor.name, args.data))
    print(f"\nreport: {args.out / 'robustness.json'}, {args.out / 'robustness.csv'}")


if __name__ == "__main__":
    main()
