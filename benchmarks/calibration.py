"""Does the confidence know when the model is wrong? (issue 14.5)

Fits the calibrator (:mod:`apn_core.inference.calibration`) on a calibration split and
reports, on each evaluation set:

- AUROC for "error > tolerance" (or reported present though absent) of: the raw heatmap
  peak, today's ``sqrt(peak · C)``, each feature alone, and the calibrated ``p_within``
  (logistic and isotonic);
- ECE of ``p_within`` and a reliability diagram (PNG);
- the review flag's recall of errors and its false-flag rate (share of correct landmarks
  flagged): calibrated confidence alone, plausibility alone, and both (the review rule);
- the same for the absent/present decision (``p_present``).

Sets: *calibration* = the ``--calib`` folder unperturbed plus perturbed copies with one
half of the perturbation kinds; *in-distribution* = ``--test`` unperturbed; *held-out
family* = each ``--family`` folder; *perturbed (seen kinds)* / *(unseen kinds)* =
``--test`` under the calibration half / the other half of the kinds (the robustness
perturbations of ``perturbations.py`` and its ``SEVERE`` ones, which make models fail).

    apn synth data/calib -n 30 --seed 3000 --spacing 1.0
    apn synth data/test -n 20 --seed 4000 --spacing 1.0
    apn synth data/family -n 30 --seed 6000 --spacing 1.0 --hip-prosthesis 0.8 \\
        --knee-prosthesis 0.8 --shield 0.8 --restricted 0.5 --noise 4
    python benchmarks/calibration.py --model default --calib data/calib --test data/test \\
        --family data/family --out runs/calibration
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apn_core.dataset import load_labelled_folder
from apn_core.inference.calibration import (
    FEATURES,
    CalibrationData,
    fit_calibrator,
    save_calibrator,
)
from apn_core.inference.reliability import auroc, expected_calibration_error, reliability
from apn_core.inference.review import review_landmarks
from apn_core.inference.review_data import FeatureExtractor, labelled_rows
from apn_core.perturbations import PERTURBATIONS, SEVERE, load_samples, perturb
from apn_core.utils.atomic import atomic_path, write_text_atomic
from apn_core.utils.json_safe import json_safe

# feature → +1 if larger means "more likely right", −1 if larger means "more likely wrong"
DIRECTION = {
    "peak": 1,
    "second_ratio": -1,
    "spread_mm": -1,
    "flip_mm": -1,
    "c": 1,
    "p": 1,
    "image_peak": 1,
    "image_flip_mm": -1,
}


@dataclass
class Collected:
    """Calibration rows of a set plus, per row, whether plausibility flagged it."""

    data: CalibrationData
    plausibility_flag: np.ndarray


@dataclass
class Records:
    """Per image version (N of them, K landmarks): what the model said and the truth.
    Saved as ``.npz`` so fitting and scoring can be redone without the networks."""

    names: np.ndarray  # (N,) str
    pred_xy: np.ndarray  # (N, K, 2) image px, NaN = reported absent
    present: np.ndarray  # (N, K) reported present
    features: np.ndarray  # (N, K, F)
    truth_xy: np.ndarray  # (N, K, 2)
    annotated: np.ndarray  # (N, K)
    spacing: np.ndarray  # (N, 2)

    def save(self, path: Path, model: str) -> None:
        with atomic_path(path) as tmp:
            np.savez_compressed(
                tmp,
                model=np.array(model),
                **{k: getattr(self, k) for k in self.__dataclass_fields__},
            )

    @classmethod
    def load(cls, path: Path, model: str) -> Records | None:
        """The cached records, or None when they were made by another model."""
        with np.load(path, allow_pickle=False) as z:
            if str(z["model"]) != model:
                return None
            return cls(**{k: z[k] for k in cls.__dataclass_fields__})


def kinds_split(kinds: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Alternate the robustness and the severe kinds into a calibration and a held-out half."""
    robust = [k for k in PERTURBATIONS if kinds is None or k in kinds]
    severe = [k for k in SEVERE if kinds is None or k in kinds]
    return robust[0::2] + severe[0::2], robust[1::2] + severe[1::2]


def collect_records(
    extractor: FeatureExtractor, samples: list, kinds: list[str | None], label: str
) -> Records:
    """Predict every (sample, kind) pair; kind None = unperturbed."""
    out: dict[str, list] = {k: [] for k in Records.__dataclass_fields__}
    for kind in kinds:
        for i, (image, s) in enumerate(samples):
            t = s if kind is None else perturb(kind, s, seed=i)
            pred, feats = extractor(t.pixels, t.spacing)
            for key, value in (
                ("names", f"{label}/{kind}/{image}"),
                ("pred_xy", pred.xy),
                ("present", pred.present),
                ("features", feats),
                ("truth_xy", t.xy),
                ("annotated", t.annotated),
                ("spacing", np.array(t.spacing)),
            ):
                out[key].append(value)
    return Records(**{k: np.array(v) if k == "names" else np.stack(v) for k, v in out.items()})


def to_rows(r: Records, landmarks) -> Collected:
    """Calibration rows and plausibility flags (recomputed from the predicted positions)."""
    parts, flags = [], []
    for i in range(len(r.names)):
        spacing = (float(r.spacing[i, 0]), float(r.spacing[i, 1]))
        parts.append(
            labelled_rows(
                r.pred_xy[i],
                r.present[i],
                r.features[i],
                r.truth_xy[i],
                r.annotated[i],
                spacing,
                str(r.names[i]),
                landmarks.names,
            )
        )
        review = review_landmarks(r.pred_xy[i], r.present[i], spacing, landmarks)
        flags.append(review.needs_review[r.annotated[i].astype(bool)])
    return Collected(CalibrationData.concat(parts), np.concatenate(flags))


def evaluate_set(cal_iso, cal_log, c: Collected) -> dict:
    """All measures of one evaluation set (see the module docstring)."""
    d, tol = c.data, cal_iso.tolerance_mm
    rep = d.reported_present
    wrong = ~d.within(tol)[rep]
    t = d.features[rep]
    p_iso, p_log = cal_iso.probability(t), cal_log.probability(t)
    peak, conf_c = t[:, FEATURES.index("peak")], t[:, FEATURES.index("c")]
    scores = {"raw peak": peak, "today: sqrt(peak·C)": np.sqrt(np.clip(peak, 0, 1) * conf_c)}
    for f in FEATURES:
        col = t[:, FEATURES.index(f)]
        if np.isfinite(col).any():
            scores[f"{f} alone"] = DIRECTION[f] * col
    scores["calibrated (logistic)"] = p_log
    scores["calibrated (isotonic)"] = p_iso
    out = {
        "reported_present": int(rep.sum()),
        "errors": int(wrong.sum()),
        "auroc": {name: auroc(-s, wrong) for name, s in scores.items()},
        "ece_isotonic": expected_calibration_error(p_iso, ~wrong),
        "ece_logistic": expected_calibration_error(p_log, ~wrong),
        "reliability_isotonic": reliability(p_iso, ~wrong),
    }
    conf_flag = p_iso <= cal_iso.threshold
    plaus_flag = c.plausibility_flag[rep]
    for name, flag in (
        ("confidence", conf_flag),
        ("plausibility", plaus_flag),
        ("review", conf_flag | plaus_flag),
    ):
        out[f"flag_{name}"] = _rates(flag, wrong)
    # presence: all annotated landmarks
    pp = cal_iso.presence_probability(d.features)
    truth = d.truly_present
    missed = ~rep & truth
    out["presence"] = {
        "annotated": len(d),
        "absent": int((~truth).sum()),
        "present_reported_absent": int(missed.sum()),
        "absent_reported_present": int((rep & ~truth).sum()),
        "auroc_p_present": auroc(pp, truth),
        "auroc_raw_peak": auroc(d.features[:, 0], truth),
    }
    if cal_iso.presence_threshold is not None:
        absent_rows = ~rep
        flag = pp[absent_rows] >= cal_iso.presence_threshold
        out["presence"]["flag"] = _rates(flag, truth[absent_rows])
    return out


def _rates(flag: np.ndarray, wrong: np.ndarray) -> dict:
    recall = float(flag[wrong].mean()) if wrong.any() else float("nan")
    false_rate = float(flag[~wrong].mean()) if (~wrong).any() else float("nan")
    return {
        "recall": recall,
        "false_flag_rate": false_rate,
        "n_wrong": int(wrong.sum()),
        "n_right": int((~wrong).sum()),
    }


def feature_cost_ms(k: int, shape: tuple[int, int], batch: int = 8, reps: int = 20) -> float:
    """Milliseconds per image of ``landmark_features`` (flip and both discriminator
    outputs given) on random heatmaps — a worst case: noise has many local maxima."""
    import torch

    from apn_core.inference.confidence import landmark_features

    g = torch.Generator().manual_seed(0)
    plain, flipped = (
        torch.rand(batch, k, *shape, generator=g),
        torch.rand(batch, k, *shape, generator=g),
    )
    c = p = torch.rand(batch, k, generator=g)
    landmark_features(plain, (8.0, 8.0), flipped=flipped, c=c, p=p)  # warm-up
    start = time.perf_counter()
    for _ in range(reps):
        landmark_features(plain, (8.0, 8.0), flipped=flipped, c=c, p=p)
    return (time.perf_counter() - start) / reps / batch * 1000


def plot_reliability(path: Path, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.4), squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items(), strict=True):
        bins = r["reliability_isotonic"]
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        if bins:
            x = [b["mean_prob"] for b in bins]
            y = [b["frequency"] for b in bins]
            n = np.array([b["n"] for b in bins], float)
            ax.plot(x, y, "-", color="C0", lw=1)
            ax.scatter(x, y, s=10 + 60 * n / n.max(), color="C0", zorder=3)
        ax.set_title(f"{name}\nECE {r['ece_isotonic']:.3f}, n={r['reported_present']}", fontsize=8)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("p_within (calibrated)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("observed share within tolerance", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _pct(x) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.1f} %"


def _f(x, digits: int = 3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def markdown(results: dict, cal, model: str) -> str:
    names = list(results)
    lines = [
        f"Model `{model}`; calibrator fitted on {cal.fitted_on['images']} image versions "
        f"({cal.quality['n']} reported landmarks, {cal.quality['n_beyond_tolerance']} beyond "
        f"{cal.tolerance_mm:g} mm); features: {', '.join(cal.features)}; review threshold "
        f"p_within ≤ {cal.threshold:.3f}.",
        "",
        'AUROC for "landmark wrong" (error > tolerance, or reported though absent):',
        "",
        "| score | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for score in results[names[0]]["auroc"]:
        lines.append(
            f"| {score} | " + " | ".join(_f(results[n]["auroc"].get(score)) for n in names) + " |"
        )
    lines += ["", "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines.append(
        "| reported landmarks (errors) | "
        + " | ".join(f"{results[n]['reported_present']} ({results[n]['errors']})" for n in names)
        + " |"
    )
    lines.append(
        "| ECE, isotonic | " + " | ".join(_f(results[n]["ece_isotonic"]) for n in names) + " |"
    )
    lines.append(
        "| ECE, logistic | " + " | ".join(_f(results[n]["ece_logistic"]) for n in names) + " |"
    )
    for key, label in (
        ("flag_confidence", "confidence flag"),
        ("flag_plausibility", "plausibility flag"),
        ("flag_review", "review flag (either)"),
    ):
        lines.append(
            f"| {label}: recall of errors | "
            + " | ".join(_pct(results[n][key]["recall"]) for n in names)
            + " |"
        )
        lines.append(
            f"| {label}: correct flagged | "
            + " | ".join(_pct(results[n][key]["false_flag_rate"]) for n in names)
            + " |"
        )
    lines.append(
        "| absent: annotated absent / present reported absent | "
        + " | ".join(
            f"{results[n]['presence']['absent']} / {results[n]['presence']['present_reported_absent']}"
            for n in names
        )
        + " |"
    )
    lines.append(
        "| absent: AUROC p_present (raw peak) | "
        + " | ".join(
            f"{_f(results[n]['presence']['auroc_p_present'])} ({_f(results[n]['presence']['auroc_raw_peak'])})"
            for n in names
        )
        + " |"
    )
    lines.append(
        "| absent: missed flagged / truly absent flagged | "
        + " | ".join(
            f"{_pct(results[n]['presence'].get('flag', {}).get('recall'))} / {_pct(results[n]['presence'].get('flag', {}).get('false_flag_rate'))}"
            for n in names
        )
        + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="default", help="run folder or bundled key")
    parser.add_argument("--calib", type=Path, required=True, help="labelled folder to calibrate on")
    parser.add_argument(
        "--test", type=Path, required=True, help="labelled folder for in-distribution/perturbed"
    )
    parser.add_argument(
        "--family", type=Path, nargs="*", default=[], help="held-out family folder(s)"
    )
    parser.add_argument("-n", type=int, default=30, help="images per folder (default 30)")
    parser.add_argument("--tolerance", type=float, default=10.0, help="mm (default 10)")
    parser.add_argument(
        "--false-flags", type=float, default=0.03, help="false-flag budget of the review threshold"
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=[*PERTURBATIONS, *SEVERE],
        help="perturbation kinds to use (default all; split alternately into seen/unseen)",
    )
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument(
        "--tag", default="best", help="checkpoint of a run folder: best (default) or last"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/calibration"),
        help="report folder; it caches each set's network outputs (records_*.npz) per model",
    )
    args = parser.parse_args()

    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    seen, unseen = kinds_split(args.kinds)
    plan = {"calibration": (args.calib, [None, *seen]), "in-distribution": (args.test, [None])}
    for folder in args.family:
        plan[f"family {folder.name}"] = (folder, [None])
    plan["perturbed, seen kinds"] = (args.test, seen)
    plan["perturbed, unseen kinds"] = (args.test, unseen)
    extractor = FeatureExtractor.load(args.model, device=args.device, tag=args.tag)
    landmarks = extractor.predictor.config.landmarks
    cache_key = f"{extractor.predictor.name}:{args.tag}:pose={extractor.has_pose}"
    loaded: dict[Path, list] = {}
    sets = {}
    for name, (folder, kinds) in plan.items():
        cache = args.out / f"records_{''.join(c if c.isalnum() else '_' for c in name)}.npz"
        records = Records.load(cache, cache_key) if cache.exists() else None
        if records is None:
            if folder not in loaded:
                f = load_labelled_folder(folder, landmarks)
                f.raise_for_errors()
                loaded[folder] = list(load_samples(f, args.n))
            records = collect_records(extractor, loaded[folder], kinds, name)
            records.save(cache, cache_key)
        sets[name] = to_rows(records, landmarks)
        print(
            f"{name}: {len(records.names)} image versions ({time.perf_counter() - start:.0f} s)",
            file=sys.stderr,
        )
    calib = sets.pop("calibration")

    fitted_on = {
        "data": f"{args.calib} (+ {', '.join(seen)})",
        "model": extractor.predictor.name,
        "pose_discriminator": extractor.has_pose,
    }
    cal_iso = fit_calibrator(
        calib.data,
        args.tolerance,
        "isotonic",
        fitted_on=fitted_on,
        false_flag_budget=args.false_flags,
    )
    cal_log = fit_calibrator(
        calib.data,
        args.tolerance,
        "logistic",
        fitted_on=fitted_on,
        false_flag_budget=args.false_flags,
    )
    results = {name: evaluate_set(cal_iso, cal_log, c) for name, c in sets.items()}
    save_calibrator(args.out / "calibration.json", cal_iso)
    shape = extractor.predictor.config.geometry.heatmap_shape
    cost = feature_cost_ms(len(landmarks), shape)
    report = {
        "model": extractor.predictor.name,
        "pose_discriminator": extractor.has_pose,
        "feature_ms_per_image": cost,
        "seen_kinds": seen,
        "unseen_kinds": unseen,
        "calibrator": cal_iso.to_dict(),
        "results": results,
    }
    write_text_atomic(args.out / "calibration_report.json", json.dumps(json_safe(report), indent=2))
    plot_reliability(args.out / "reliability.png", results)
    print(markdown(results, cal_iso, extractor.predictor.name))
    print(
        f"\nfeatures: {cost:.2f} ms per image ({len(landmarks)} landmarks, {shape[0]}×{shape[1]} heatmaps, batch 8, CPU)"
    )
    if not extractor.has_pose:
        print("\n(no pose discriminator in this model: feature 'p' is missing)")
    print(f"\nseen kinds: {', '.join(seen)}; unseen kinds: {', '.join(unseen)}")
    print(
        f"report: {args.out / 'calibration_report.json'}, {args.out / 'reliability.png'} "
        f"({time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
