"""K-fold cross-validation of a training recipe on the real OAI training films.

The 242 films of ``oai-12m/train`` (landmarks derived from their outlines by ``apn import
labelme``) are split into K folds by name (fold k = every K-th film from the k-th). For each
fold the recipe trains on the other films — as one-leg films, as two-leg composites made
from them only (``apn bilateral``), and beside any extra folders given (synthetic images) —
and the model predicts the fold's films. The pooled held-out predictions give MRE, median,
PCK@10/20 per landmark, absent/present errors, HKA reported and HKA error against the
derived truth, as ``benchmarks/real_films.py`` reports for the test films.

python benchmarks/real_cv.py --work runs/cv --extra data/synth_mix --folds 5 -- \\
    --init default --preset finetune --epochs-pretrain 12 --epochs-adversarial 4

Everything after ``--`` is passed to ``apn train``. Folds already trained (a run folder
with a finished ``log.jsonl``) are reused, so the script resumes after an interruption.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.csv_cells import csv_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_films import REALDATA, agreement, apn, hka_from_points, read_measurements, read_rows


def subset(src: Path, out: Path, names: list[str]) -> Path:
    """A labelled folder with symbolic links to ``names`` of ``src`` and their rows."""
    out.mkdir(parents=True, exist_ok=True)
    with (src / "landmarks.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, [r for r in reader if r["image"] in set(names)]
    table = [fields, *([r[k] for k in fields] for r in rows)]
    write_text_atomic(out / "landmarks.csv", csv_text(table))
    for n in names:
        link = out / n
        if not link.exists():
            link.symlink_to((src / n).resolve())
    return out


def finished(run: Path) -> bool:
    log = run / "log.jsonl"
    if not log.exists() or not (run / "config.json").exists():
        return False
    cfg = json.loads((run / "config.json").read_text())["train"]
    epochs = cfg["epochs_pretrain"] + (cfg["epochs_adversarial"] if cfg["adversarial"] else 0)
    return len(log.read_text().splitlines()) >= epochs


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only", type=int, nargs="*", help="run only these folds (0-based)")
    ap.add_argument(
        "--extra", type=Path, nargs="*", default=[], help="labelled folders trained on too"
    )
    ap.add_argument("--spacing", type=float, default=1.32)
    ap.add_argument("--composites", type=int, default=2, help="two-leg images per training film")
    ap.add_argument("--realdata", type=Path, default=REALDATA)
    ap.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then apn train options")
    args = ap.parse_args()
    train_args = [a for a in args.train_args if a != "--"]
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    real = work / "oai12m_train"
    if not (real / "landmarks.csv").exists():
        apn("import", "labelme", str(args.realdata / "oai-12m" / "train"), "--out", str(real),
            "--spacing", str(args.spacing), "--other-side", "absent")  # fmt: skip
    names = sorted({r["image"] for r in csv.DictReader((real / "landmarks.csv").open(newline=""))})
    folds = [names[k :: args.folds] for k in range(args.folds)]
    for k in args.only if args.only is not None else range(args.folds):
        fold = work / f"fold{k}"
        held = set(folds[k])
        train_names = [n for n in names if n not in held]
        tr = subset(real, fold / "real", train_names)
        te = subset(real, fold / "test", folds[k])
        bil = fold / "bilateral"
        if not (bil / "landmarks.csv").exists():
            apn("bilateral", str(tr), "--out", str(bil), "-n", str(args.composites * len(train_names)),
                "--seed", str(100 + k))  # fmt: skip
        run = fold / "run"
        if not finished(run):
            cmd = [sys.executable, "-m", "apn_core", "train", str(tr), str(bil), *map(str, args.extra),
                   "--out", str(run), *train_args]  # fmt: skip
            if run.exists():
                cmd.append("--resume")
            print(" ".join(cmd), flush=True)
            res = subprocess.run(cmd)
            if res.returncode != 0:
                raise SystemExit(f"fold {k}: apn train exited {res.returncode}")
        pred = fold / "pred"
        apn(
            "predict",
            str(te),
            "--out",
            str(pred),
            "--model",
            str(run),
            "--spacing",
            str(args.spacing),
            "--redo",
        )
        apn("evaluate", str(te), "--pred", str(pred / "landmarks.csv"), "--out", str(fold / "eval"))
    pooled(work, folds, args.spacing)


def pooled(work: Path, folds: list[list[str]], spacing: float) -> None:
    """Pooled held-out results over the folds that have predictions."""
    from apn_core.landmarks import DEFAULT_LANDMARKS

    err: dict[str, list[float]] = {n: [] for n in DEFAULT_LANDMARKS.names}
    missed = {n: 0 for n in DEFAULT_LANDMARKS.names}
    counts = {"present": 0, "present_reported_absent": 0, "absent": 0, "absent_reported_present": 0}
    hka_d, reported, left = [], [], 0
    n_images = 0
    for k in range(len(folds)):
        fold = work / f"fold{k}"
        if not (fold / "pred" / "landmarks.csv").exists():
            continue
        truth, rows = (
            read_rows(fold / "test" / "landmarks.csv"),
            read_rows(fold / "pred" / "landmarks.csv"),
        )
        meas = read_measurements(fold / "pred" / "measurements.csv")
        for img in folds[k]:
            n_images += 1
            left += any(
                rows.get((img, f"{p}_left"), {}).get("present") in ("1", "True", "true")
                for p in ("femur", "knee", "ankle")
            )
            for name in DEFAULT_LANDMARKS.names:
                t, r = truth.get((img, name)), rows.get((img, name), {})
                if t is None:
                    continue
                is_present = bool(t["x"])
                said = r.get("present") in ("1", "True", "true")
                if is_present:
                    counts["present"] += 1
                    if not said:
                        counts["present_reported_absent"] += 1
                        missed[name] += 1
                    else:
                        d = (
                            np.hypot(float(r["x"]) - float(t["x"]), float(r["y"]) - float(t["y"]))
                            * spacing
                        )
                        err[name].append(d)
                else:
                    counts["absent"] += 1
                    counts["absent_reported_present"] += said
            h = meas.get((img, "right"), {}).get("hka_deg")
            truth_hka = hka_from_points(truth, img, spacing)
            reported.append(bool(h))
            if h:
                hka_d.append(float(h) - truth_hka)
    allerr = np.concatenate([np.array(v) for v in err.values() if v]) if n_images else np.array([])
    print(f"\n### {n_images} held-out OAI training films ({len(folds)}-fold cross-validation)\n")
    print("| landmark | present | MRE ± SD (mm) | median | PCK@10 of present | PCK@20 of present |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    rows_out = {}
    for name, e in [("all", allerr), *((n, np.array(v)) for n, v in err.items())]:
        present = len(e) + (sum(missed.values()) if name == "all" else missed[name])
        if not present:
            continue
        p10, p20 = float(np.sum(e <= 10) / present), float(np.sum(e <= 20) / present)
        rows_out[name] = {"present": present, "mre": float(e.mean()), "sd": float(e.std()),
                          "median": float(np.median(e)), "pck10": p10, "pck20": p20}  # fmt: skip
        print(
            f"| {name} | {present} | {e.mean():.2f} ± {e.std():.2f} | {np.median(e):.2f} | {p10:.1%} | {p20:.1%} |"
        )
    a = agreement(np.array(hka_d))
    print(f"\npresent reported absent {counts['present_reported_absent']} of {counts['present']}; "
          f"absent reported present {counts['absent_reported_present']} of {counts['absent']}; "
          f"films with a left leg reported {left} of {n_images}; HKA reported for "
          f"{np.mean(reported):.0%} of legs")  # fmt: skip
    if a.get("n"):
        print(f"HKA vs derived truth: mean |Δ| {a['mean_abs']:.2f}°, bias {a['bias']:+.2f}°, "
              f"SD {a['sd']:.2f}°, within 1° {a['within_1deg']:.0%}")  # fmt: skip
    (work / "cv.json").write_text(json.dumps({"landmarks": rows_out, "counts": counts, "left_reported": left,
                                              "images": n_images, "hka_reported": float(np.mean(reported)),
                                              "hka_vs_derived": a}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
