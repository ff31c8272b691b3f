"""``apn evaluate DATA --model RUN|default`` (or ``--pred landmarks.csv``): accuracy in mm.

Prints MRE ± SD, median and PCK@thresholds overall, per landmark and for occluded
landmarks; counts absent landmarks reported present. Writes ``evaluation.json``,
``errors.csv`` and ``error_cdf.png`` to ``--out`` (default: ./evaluation, in the current
folder — never inside DATA). The model's landmark set must be the folder's (``--landmarks``,
default the six lower-limb landmarks). Exit code: 0 every image scored, 1 some images had
no prediction, 2 nothing could be scored (or a bad option, folder or model).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from apn_core.cli.common import (
    add_landmarks_option,
    add_model_options,
    add_override_spacing_option,
    add_spacing_option,
    load_landmarks,
    progress_bar,
    thresholds_arg,
)
from apn_core.errors import FileProblem

DEFAULT_OUT = Path("evaluation")


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="accuracy of a model on a labelled folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="labelled folder with the truth")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", default="default", help="run folder or 'default' (bundled)")
    src.add_argument(
        "--pred", type=Path, help="landmarks.csv written by 'apn predict' instead of a model"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="report folder (default ./evaluation)",
    )
    p.add_argument(
        "--thresholds",
        type=thresholds_arg,
        default=(10.0, 20.0),
        metavar="MM,MM",
        help="PCK thresholds in mm, positive (default 10,20)",
    )
    add_model_options(p)
    add_spacing_option(p, "a spacing_mm column in landmarks.csv comes first")
    add_override_spacing_option(p)
    add_landmarks_option(p)
    p.set_defaults(func=run)


def check_landmark_sets(model_set, folder_set, model: str, given: Path | None) -> None:
    """Refuse a model whose landmarks are not the folder's, in the same order."""
    if tuple(model_set.names) == tuple(folder_set.names):
        return
    read_with = f"--landmarks {given}" if given else "the default landmark set"
    order = (
        " (the same names in another order)"
        if set(model_set.names) == set(folder_set.names)
        else ""
    )
    raise FileProblem(
        model,
        f"the model finds {', '.join(model_set.names)} but the folder is read with {read_with} "
        f"({', '.join(folder_set.names)}){order}; pass --landmarks with the model's landmark set",
    )


def run(args) -> int:
    from apn_core.dataset import load_labelled_folder
    from apn_core.inference.batch import OVERRIDE_SOURCE
    from apn_core.inference.evaluate import evaluate, predictions_from_csv
    from apn_core.inference.outputs import prepare_output_folder
    from apn_core.inference.report import write_report

    thresholds = args.thresholds
    landmarks = load_landmarks(args.landmarks)
    if not Path(args.data).is_dir():
        raise FileProblem(
            args.data, "not a folder" if Path(args.data).exists() else "folder not found"
        )
    if Path(args.out).resolve() == Path(args.data).resolve():
        raise FileProblem(args.out, "is the labelled folder itself; write the report elsewhere")
    prepare_output_folder(args.out, "apn evaluate")  # before any network runs
    predictor = None
    if args.pred is None:
        from apn_core.inference import Predictor

        predictor = Predictor.load(args.model, flip_test=not args.no_flip)
        check_landmark_sets(predictor.config.landmarks, landmarks, args.model, args.landmarks)
    folder = load_labelled_folder(args.data, landmarks, args.spacing)
    folder.raise_for_errors()
    if args.override_spacing is not None:
        for item in folder.items:
            item.spacing, item.spacing_source = args.override_spacing, OVERRIDE_SOURCE
    failed: list[tuple[str, str]] = []
    if predictor is None:
        predicted = predictions_from_csv(args.pred, folder)
        source = str(args.pred)
    else:
        predicted, failed = _predict(predictor, folder, args)
        source = predictor.name
    missing = [item.labels.image for item in folder.items if item.labels.image not in predicted]
    if len(missing) == len(folder.items):
        raise FileProblem(
            args.pred or args.data,
            f"no image of {args.data} has a prediction"
            + (" (do the 'image' names match the folder's?)" if args.pred else ""),
        )
    metrics, rows = evaluate(folder, predicted, thresholds)
    metrics["model"] = source
    written = write_report(args.out, metrics, rows, thresholds)
    print_table(metrics, landmarks.names, thresholds)
    for image, error in failed:
        print(f"  failed: {image}: {error}")
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        print(
            f"{len(missing)} of {len(folder.items)} image(s) have no prediction and are not scored: {shown}",
            file=sys.stderr,
        )
    print(f"report: {', '.join(str(p) for p in written)}")
    return 1 if missing else 0


def _predict(predictor, folder, args) -> tuple[dict, list[tuple[str, str]]]:
    from apn_core.calibration_object import ObjectChoice
    from apn_core.inference.batch import SpacingPolicy, predict_files
    from apn_core.inference.jobs import grouped

    # scored in the labelled folder's own spacing: a ruler on the film is not looked for
    none = ObjectChoice("none")
    policy = SpacingPolicy(fallback=args.spacing, override=args.override_spacing, objects=none)
    predicted, failed, notes = {}, [], []
    update, close = progress_bar("predicting", "img")
    try:
        by_path = {item.path: item for item in folder.items}
        results = predict_files(predictor, list(by_path), policy, args.batch_size)
        for n, res in enumerate(results, start=1):
            image = by_path[res.path].labels.image
            if res.prediction is not None:
                predicted[image] = res.prediction.xy
                if res.spacing_note:
                    notes.append((image, res.spacing_note))
            else:
                failed.append((image, (res.error or "").removeprefix(str(res.path)).lstrip(": ")))
            update(n, len(by_path))
    finally:
        close()
    for line in grouped("spacing", notes):
        print(line, file=sys.stderr)
    return predicted, failed


def _num(value, spec: str) -> str:
    """A table cell, or "–" when the value is missing (no landmark of that kind scored)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return format(v, spec) if v == v and abs(v) != float("inf") else "–"


def print_table(metrics: dict, names, thresholds) -> None:
    pck = [f"PCK@{t:g}" for t in thresholds]
    print(
        f"{'landmarks':<13}{'n':>6}{'MRE ± SD (mm)':>17}{'median':>8}"
        + "".join(f"{p:>10}" for p in pck)
    )
    for key in ("all", *names, "occluded"):
        m = metrics.get(key)
        if not isinstance(m, dict) or not m.get("n"):
            continue
        cells = ""
        for t in thresholds:
            share = m.get(f"pck@{t:g}")
            cell = _num(None if share is None else 100 * share, ".1f")
            cells += f"{cell + ('%' if cell != '–' else ''):>10}"
        mre = f"{_num(m.get('mre'), '.2f'):>9} ± {_num(m.get('sd'), '.2f'):<5}"
        print(f"{key:<13}{m['n']:>6}{mre}{_num(m.get('median'), '.2f'):>8}{cells}")
    c = metrics.get("counts", {})
    if {"absent_reported_present", "absent", "present_reported_absent", "present"} <= set(c):
        print(
            f"absent landmarks reported present: {c['absent_reported_present']} of {c['absent']}; "
            f"present landmarks reported absent: {c['present_reported_absent']} of {c['present']}"
        )
