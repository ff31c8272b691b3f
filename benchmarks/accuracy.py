"""Accuracy with the same CPU training budget: ``seed`` (argmax), ``default`` supervised
only, ``default`` adversarial — each trained by ``apn train --max-minutes`` on the same
folder, evaluated with ``apn evaluate`` on the same held-out folder — plus training
throughput per phase and minutes until validation PCK@10 first reached 95 %.

    apn synth data/train -n 400 --seed 1000 --spacing 0.5
    apn synth data/heldout -n 200 --seed 5000 --spacing 0.5
    python benchmarks/accuracy.py data/train data/heldout --minutes 8 --out runs/bench
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from apn_core.landmarks import DEFAULT_LANDMARKS

# name → (preset, extra apn train options): phases sized so that the budget ends the run
CANDIDATES = {
    "seed (argmax)": ("seed", ["--epochs-pretrain", "100", "--epochs-adversarial", "0"]),
    "default, supervised only": ("default", ["--no-adversarial", "--epochs-pretrain", "24"]),
    "default, adversarial": ("default", ["--epochs-pretrain", "17", "--epochs-adversarial", "7"]),
}


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("train", type=Path)
    parser.add_argument("heldout", type=Path)
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    args = parser.parse_args()
    apn = [sys.executable, "-m", "apn_core"]
    rows = []
    for name, (preset, extra) in CANDIDATES.items():
        run_dir = args.out / "".join(c if c.isalnum() else "_" for c in name).strip("_")
        if not (run_dir / "last.safetensors").exists():
            run(
                [
                    *apn,
                    "train",
                    str(args.train),
                    "--out",
                    str(run_dir),
                    "--preset",
                    preset,
                    "--max-minutes",
                    str(args.minutes),
                    "--workers",
                    "1",
                    "--progress",
                    "json",
                    *extra,
                ]
            )
        report = run_dir / "heldout"
        if not (report / "evaluation.json").exists():  # re-running only re-prints
            run(
                [*apn, "evaluate", str(args.heldout), "--model", str(run_dir), "--out", str(report)]
            )
        metrics = json.loads((report / "evaluation.json").read_text())
        log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
        minutes, reached = 0.0, None
        for r in log:
            minutes += r["time_s"] / 60
            # wall time since apn train started (reading, caching and validation included)
            # where the log has it; older logs: the epochs' training time
            at = r["wall_s"] / 60 if "wall_s" in r else minutes
            if reached is None and r.get("val_pck@10", 0) >= 0.95:
                reached = at
        speed = {
            ph: [r["images_per_s"] for r in log if r["phase"] == ph]
            for ph in ("pretrain", "adversarial")
        }
        rows.append((name, metrics, len(log), speed, reached))
    print(
        f"same budget: {args.minutes:g} min of training each on {args.train} ({sum(1 for _ in args.train.glob('*.*'))} files); "
        f"held-out {args.heldout}"
    )
    print(
        f"{'model':<26}{'epochs':>7}{'reported':>9}{'MRE ± SD (mm)':>16}{'median':>8}{'PCK@10':>8}{'PCK@20':>8}"
        f"{'occl. MRE':>10}{'occl. PCK@10':>13}{'img/s pre/adv':>15}{'→95% (min)':>11}"
    )
    print(
        "(reported: share of truly present landmarks the model reported present; MRE/PCK are over those)"
    )
    for name, m, epochs, speed, reached in rows:
        a, o, c = m["all"], m.get("occluded", {}), m["counts"]
        reported = 1 - c["present_reported_absent"] / max(c["present"], 1)
        sp = "/".join(f"{sorted(v)[len(v) // 2]:.1f}" if v else "–" for v in speed.values())
        print(
            f"{name:<26}{epochs:>7}{100 * reported:>8.1f}%{a['mre']:>9.2f} ± {a['sd']:<5.2f}{a['median']:>8.2f}{100 * a['pck@10']:>7.1f}%"
            f"{100 * a['pck@20']:>7.1f}%{o.get('mre', float('nan')):>10.2f}{100 * o.get('pck@10', float('nan')):>12.1f}%"
            f"{sp:>15}{(f'{reached:.1f}' if reached is not None else 'never'):>11}"
        )
        for lm in DEFAULT_LANDMARKS.names:
            x = m[lm]
            if not x.get("n"):
                print(f"    {lm:<22}{'never reported':>16}")
                continue
            print(f"    {lm:<22}{x['mre']:>16.2f}{100 * x['pck@10']:>15.1f}%")


if __name__ == "__main__":
    main()
