"""``apn check DATA``: validate a labelled folder and list every problem at once.

Exit code 0 when training could start (warnings allowed), 1 when there are errors.
"""

from __future__ import annotations

import json

from apn_core.cli.common import (
    add_landmarks_option,
    add_spacing_option,
    load_landmarks,
    progress_bar,
)
from apn_core.dataset import load_labelled_folder


def register(sub) -> None:
    p = sub.add_parser("check", help="validate a labelled folder", description=__doc__)
    p.add_argument("data", help="labelled folder (images + landmarks.csv and/or sidecars)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_spacing_option(p, "a spacing_mm column in landmarks.csv comes first")
    add_landmarks_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    update, close = progress_bar("checking", "img")
    try:
        folder = load_labelled_folder(
            args.data, load_landmarks(args.landmarks), args.spacing, update
        )
    finally:
        close()
    report = folder.report
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0 if report.ok else 1
    for problem in report.problems:
        print(problem)
    print(
        f"\n{args.data}: {report.n_images} image(s), {report.n_labelled} usable labelled image(s)"
    )
    if report.n_landmarks:
        width = max(len(n) for n in report.n_landmarks)
        print(f"  {'landmark':<{width}}  present  absent  not annotated")
        for name, c in report.n_landmarks.items():
            print(
                f"  {name:<{width}}  {c['present']:>7}  {c['absent']:>6}  {c['not_annotated']:>13}"
            )
    counts = report.counts()
    if counts:
        print("problems: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    verdict = "OK: ready for training" if report.ok else f"FAILED: {len(report.errors)} error(s)"
    print(verdict + (f", {len(report.warnings)} warning(s)" if report.warnings else ""))
    return 0 if report.ok else 1
