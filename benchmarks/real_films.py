"""A model on real long-leg films: the OAI test films (landmarks derived from bone outlines)
and the OAI development films (the OAI central readers' HKA angle).

Everything runs through the CLI a user runs (``apn import labelme``, ``apn predict``,
``apn evaluate``); the tables are printed and written as JSON. Needs ``../shared/realdata``
(the films never enter the repository).

python benchmarks/real_films.py --model default --out runs/real_default
python benchmarks/real_films.py --model runs/real --out runs/real_eval --spacing 1.32

Reported (test films): MRE, median, PCK@10/20 per landmark over the landmarks present in
the truth (a present landmark reported absent counts as a miss for PCK, and is left out of
MRE, as ``apn evaluate`` does), absent/present errors, images with a left leg reported,
share of legs with an HKA reported (not emptied by a review flag), HKA error against the
HKA of the derived landmarks. Development films: HKA against the readers' (sign: OAI's
negative = varus, ours positive = varus) — mean absolute difference, bias, SD, 95 % limits
of agreement, share within 1°, for the reported HKA and for the HKA computed from the raw
points whatever their flags.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"


def apn(*args: str) -> str:
    cmd = [sys.executable, "-m", "apn_core", *args]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def hka_from_points(rows: dict, image: str, spacing: float, side: str = "right") -> float:
    """HKA (positive = varus) of one leg from a landmarks table's raw x, y."""
    from apn_core.measurements import leg_alignment

    pts = []
    for part in ("femur", "knee", "ankle"):
        r = rows.get((image, f"{part}_{side}"))
        if r is None or not r.get("x"):
            return float("nan")
        pts.append((float(r["x"]), float(r["y"])))
    return leg_alignment(*pts, (spacing, spacing), side).hka_deg


def read_rows(path: Path) -> dict:
    with path.open(newline="") as f:
        return {(r["image"], r["landmark"]): r for r in csv.DictReader(f)}


def read_measurements(path: Path) -> dict:
    with path.open(newline="") as f:
        return {(r["image"], r["side"]): r for r in csv.DictReader(f)}


def agreement(diff: np.ndarray) -> dict:
    diff = diff[np.isfinite(diff)]
    if not len(diff):
        return {"n": 0}
    sd = float(np.std(diff, ddof=1)) if len(diff) > 1 else 0.0
    bias = float(np.mean(diff))
    return {
        "n": len(diff),
        "mean_abs": float(np.mean(np.abs(diff))),
        "bias": bias,
        "sd": sd,
        "loa": [bias - 1.96 * sd, bias + 1.96 * sd],
        "within_1deg": float(np.mean(np.abs(diff) <= 1.0)),
    }


def test_films(model: str, out: Path, spacing: float, realdata: Path) -> dict:
    data = out / "oai12m_test"
    if not (data / "landmarks.csv").exists():
        apn("import", "labelme", str(realdata / "oai-12m" / "test"), "--out", str(data),
            "--spacing", str(spacing), "--other-side", "absent")  # fmt: skip
    pred = out / "pred_test"
    apn(
        "predict",
        str(data),
        "--out",
        str(pred),
        "--model",
        model,
        "--spacing",
        str(spacing),
        "--redo",
    )
    apn(
        "evaluate",
        str(data),
        "--pred",
        str(pred / "landmarks.csv"),
        "--out",
        str(out / "eval_test"),
    )
    ev = json.loads((out / "eval_test" / "evaluation.json").read_text())
    truth, rows = read_rows(data / "landmarks.csv"), read_rows(pred / "landmarks.csv")
    meas = read_measurements(pred / "measurements.csv")
    images = sorted({img for img, _ in truth})
    left_reported = sum(
        any(rows.get((img, f"{p}_left"), {}).get("present") in ("1", "True", "true") for p in ("femur", "knee", "ankle"))
        for img in images
    )  # fmt: skip
    hka_truth = np.array([hka_from_points(truth, img, spacing) for img in images])
    reported = np.array([
        float(meas[(img, "right")]["hka_deg"]) if meas.get((img, "right"), {}).get("hka_deg") else np.nan
        for img in images
    ])  # fmt: skip
    raw = np.array([hka_from_points(rows, img, spacing) for img in images])
    return {
        "evaluation": ev,
        "images": len(images),
        "left_leg_reported": left_reported,
        "hka_reported_share": float(np.mean(np.isfinite(reported))),
        "hka_vs_derived": agreement(reported - hka_truth),
        "hka_raw_vs_derived": agreement(raw - hka_truth),
    }


def dev_films(model: str, out: Path, spacing: float, realdata: Path) -> dict:
    dev = realdata / "oai-36m-dev"
    readers = {}
    with (dev / "hka_oai_reader.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            readers[r["image"]] = -float(r["hka_right_deg_oai"])  # OAI: negative = varus
    pred = out / "pred_dev"
    apn("predict", str(dev / "images"), "--out", str(pred), "--model", model,
        "--spacing", str(spacing), "--redo")  # fmt: skip
    rows, meas = read_rows(pred / "landmarks.csv"), read_measurements(pred / "measurements.csv")
    images = sorted(readers)
    reader = np.array([readers[i] for i in images])
    reported = np.array([
        float(meas[(i, "right")]["hka_deg"]) if meas.get((i, "right"), {}).get("hka_deg") else np.nan
        for i in images
    ])  # fmt: skip
    raw = np.array([hka_from_points(rows, i, spacing) for i in images])
    return {
        "images": len(images),
        "hka_reported_share": float(np.mean(np.isfinite(reported))),
        "hka_vs_readers": agreement(reported - reader),
        "hka_raw_vs_readers": agreement(raw - reader),
        "per_image": {
            i: [readers[i], r, w]
            for i, r, w in zip(images, reported.tolist(), raw.tolist(), strict=True)
        },
    }


def fmt(v, spec=".2f", unit=""):
    return (
        "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:{spec}}{unit}"
    )


def print_tables(res: dict) -> None:
    t = res["test"]
    ev = t["evaluation"]
    print(f"\n### {res['model']}: {t['images']} OAI test films (landmarks from outlines)\n")
    print(
        "| landmark | present | reported | MRE ± SD (mm) | median | PCK@10 | PCK@20 | PCK@10 of present |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, m in ev.items():
        if not isinstance(m, dict) or not m.get("present") or "mre" not in m:
            continue
        of_present = m["pck@10"] * m["n"] / m["present"] if m.get("n") else 0.0
        print(f"| {name} | {m['present']} | {m['n']} | {fmt(m.get('mre'))} ± {fmt(m.get('sd'))} | "
              f"{fmt(m.get('median'))} | {fmt(m.get('pck@10'), '.1%')} | {fmt(m.get('pck@20'), '.1%')} | "
              f"{of_present:.1%} |")  # fmt: skip
    c = ev["counts"]
    print(f"\npresent reported absent: {c['present_reported_absent']} of {c['present']}; "
          f"absent reported present: {c['absent_reported_present']} of {c['absent']}; "
          f"images with a left leg reported: {t['left_leg_reported']} of {t['images']}; "
          f"HKA reported for {t['hka_reported_share']:.0%} of legs")  # fmt: skip
    for key, label in (("hka_vs_derived", "reported"), ("hka_raw_vs_derived", "raw points")):
        a = t[key]
        if a.get("n"):
            print(f"HKA ({label}) vs derived truth: n {a['n']}, mean |Δ| {a['mean_abs']:.2f}°, "
                  f"bias {a['bias']:+.2f}°, within 1° {a['within_1deg']:.0%}")  # fmt: skip
    d = res["dev"]
    print(f"\n### {res['model']}: {d['images']} OAI development films vs the OAI readers' HKA\n")
    print("| HKA from | legs | mean abs (°) | bias (°) | SD (°) | 95 % limits (°) | within 1° |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key, label in (("hka_vs_readers", "reported"), ("hka_raw_vs_readers", "raw points")):
        a = d[key]
        if a.get("n"):
            print(f"| {label} | {a['n']} of {d['images']} | {a['mean_abs']:.2f} | {a['bias']:+.2f} | "
                  f"{a['sd']:.2f} | {a['loa'][0]:+.2f} … {a['loa'][1]:+.2f} | {a['within_1deg']:.0%} |")  # fmt: skip
        else:
            print(f"| {label} | 0 of {d['images']} | – | – | – | – | – |")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--spacing", type=float, default=1.32, help="mm/px of the OAI films (their ruler)"
    )
    ap.add_argument("--realdata", type=Path, default=REALDATA)
    args = ap.parse_args()
    if not (args.realdata / "oai-12m").is_dir():
        raise SystemExit(f"{args.realdata}: no real films here (../shared/realdata)")
    args.out.mkdir(parents=True, exist_ok=True)
    res = {
        "model": args.model,
        "spacing": args.spacing,
        "test": test_films(args.model, args.out, args.spacing, args.realdata),
        "dev": dev_films(args.model, args.out, args.spacing, args.realdata),
    }
    (args.out / "real_films.json").write_text(json.dumps(res, indent=1))
    print_tables(res)


if __name__ == "__main__":
    main()
