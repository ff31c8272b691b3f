"""``apn calibrate DATA --model RUN``: fit the calibrated confidence on a labelled folder.

Runs the model on every labelled image of DATA, measures which landmarks fall within the
tolerance, and fits ``p_within`` — the probability that a landmark is within
``--tolerance`` mm (0.9 = 9 in 10 such landmarks were, on DATA) — plus ``p_present`` for
the absent/present decision and the review thresholds. Writes ``calibration.json`` into
the run folder (or ``--out FILE``; a bundled model needs ``--out``). Use images the model
was not trained on, as varied as the ones it will see, with some it gets wrong.

A model that is right on every image of DATA gives nothing to learn from ("0 of 70 beyond
10 mm"): ``--perturb standard`` adds each image under ten perturbations that make models
fail now and then (JPEG, gamma, contrast windows, MONOCHROME1, rotation, crops, bone dark
without the declaration, noise); the bundled model's calibration adds two one-leg cuts:

    apn synth calib -n 40 --seed 3000 --spacing 0.5 --exclude-family cr-film
    apn calibrate calib --model default --perturb standard --out calibration.json
    apn calibrate oai_cal bil_cal calib --model default \\
        --perturb standard,no_leg_thigh,no_leg_shank --out calibration.json

The review threshold flags ``--recall`` of DATA's errors, taking up to ``--false-flags`` of
its correct landmarks to do so, but never more than ``--max-false-flags`` (2 %): on real
films, where errors look like correct landmarks, recall alone flagged 27 % of the correct
ones. Prefer the safety net to the numbers? ``--max-false-flags 0.10``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from apn_core.cli.common import (
    add_landmarks_option,
    add_spacing_option,
    fraction,
    load_landmarks,
    positive_float,
    progress_bar,
)
from apn_core.errors import ApnError, FileProblem


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the calibrated confidence on a labelled folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "data",
        type=Path,
        nargs="+",
        help="labelled folder(s) the model was not trained on (several: used together, e.g. "
        "real and synthetic films)",
    )
    p.add_argument("--model", default="default", help="run folder or 'default' (bundled)")
    p.add_argument(
        "--out", type=Path, help="calibration file to write (default RUN/calibration.json)"
    )
    p.add_argument(
        "--tolerance",
        type=positive_float,
        metavar="MM",
        help="distance counted as correct (default: the model's, 10 mm)",
    )
    p.add_argument(
        "--method",
        choices=("isotonic", "logistic"),
        default="isotonic",
        help="score → probability map (default isotonic)",
    )
    p.add_argument(
        "--recall",
        type=fraction,
        default=0.95,
        help="share of errors the review threshold must flag (default 0.95)",
    )
    p.add_argument(
        "--false-flags",
        type=fraction,
        default=0.03,
        help="share of correct landmarks the review flag may take on DATA to reach errors "
        "just above the recall threshold (default 0.03)",
    )
    p.add_argument(
        "--max-false-flags",
        type=fraction,
        default=0.02,
        help="share of correct landmarks the review flag may never exceed on DATA, whatever "
        "--recall or --false-flags ask (default 0.02; the recall reached is printed)",
    )
    p.add_argument(
        "--perturb",
        type=perturbation_kinds,
        default=(),
        metavar="KINDS",
        help="also calibrate on each image under these perturbations: 'standard' (the ten of "
        "the bundled calibration), or names separated by commas (apn_core.perturbations); "
        "default none",
    )
    add_spacing_option(p, "a spacing_mm column in landmarks.csv comes first")
    add_landmarks_option(p)
    p.set_defaults(func=run)


def perturbation_kinds(text: str) -> tuple[str, ...]:
    """argparse type of ``--perturb``."""
    from apn_core.perturbations import parse_kinds

    try:
        return parse_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def default_output(model: str) -> Path:
    """``RUN/calibration.json`` for a run folder; a bundled model is read-only."""
    from apn_core.inference.calibration import CALIBRATION_FILE
    from apn_core.inference.model_store import BUNDLED

    if str(model) in BUNDLED:
        raise ApnError(
            f"the bundled model {model!r} is read-only: give --out FILE, then use it with "
            "apn predict --calibration FILE"
        )
    return Path(model) / CALIBRATION_FILE


def run(args) -> int:
    from apn_core.dataset import LabelledFolder, load_labelled_folder, merged_items
    from apn_core.inference.calibration import fit_calibrator, save_calibrator
    from apn_core.inference.model_store import resolve, sha256
    from apn_core.inference.review_data import FeatureExtractor, collect

    out = args.out or default_output(args.model)
    landmarks = load_landmarks(args.landmarks)
    folders = [load_labelled_folder(d, landmarks, args.spacing) for d in args.data]
    for one in folders:
        one.raise_for_errors()
    folder = LabelledFolder(folders[0].root, landmarks, merged_items(folders))
    where = " ".join(map(str, args.data))
    extractor = FeatureExtractor.load(args.model)
    if extractor.predictor.landmarks != landmarks.names:
        raise FileProblem(
            where,
            f"the model finds {', '.join(extractor.predictor.landmarks)}, not the folder's landmark set",
        )
    tolerance = args.tolerance or extractor.predictor.config.loss.tolerance_mm
    update, close = progress_bar("measuring", "img")
    try:
        data = collect(extractor, folder, update, args.perturb)
    finally:
        close()
    fitted_on = {
        "data": f"{where} (+ {', '.join(args.perturb)})" if args.perturb else where,
        "model": extractor.predictor.name,
        "weights_sha256": sha256(resolve(args.model).weights),  # checked where it is used
        "pose_discriminator": extractor.has_pose,
        "confidence_discriminator": extractor.has_confidence,
    }
    try:
        cal = fit_calibrator(
            data,
            tolerance,
            args.method,
            args.recall,
            fitted_on,
            args.false_flags,
            args.max_false_flags,
        )
    except ValueError as exc:
        raise FileProblem(where, str(exc)) from None
    save_calibrator(out, cal)
    q = cal.quality
    print(
        f"calibrated on {cal.fitted_on['images']} images"
        + (f" ({len(folder.items)} × {1 + len(args.perturb)} versions)" if args.perturb else "")
        + f", {q['n']} reported landmarks, "
        f"{q['n_beyond_tolerance']} beyond {tolerance:g} mm; features: {', '.join(cal.features)}"
        + ("" if extractor.has_pose else " (no pose discriminator in this model)")
    )
    print(f"ECE {q['ece']:.3f}, AUROC {q['auroc_error']:.3f} (on the calibration data itself)")
    print(
        f"review when p_within ≤ {cal.threshold:.3f}: flags {100 * q['recall']:.0f} % of the errors "
        f"and {100 * q['false_flag_rate']:.1f} % of the correct landmarks"
    )
    pres = q.get("presence", {})
    if cal.presence is not None and pres.get("recall") is not None:
        print(
            f"reported absent: review when p_present ≥ {cal.presence_threshold:.3f}: flags "
            f"{100 * pres['recall']:.0f} % of the missed landmarks, {100 * pres['false_flag_rate']:.1f} % of the truly absent"
        )
    print(f"wrote {out}")
    return 0
