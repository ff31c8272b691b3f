"""Held-out-family protocol: how a model copes with images of a kind it never saw.

For each held-out style family X (``apn synth --list-families``): render a training folder
of every other family, a test folder of family X and an in-distribution test folder (the
other families, new seeds); train with ``apn train`` (preset and minutes as given); evaluate
both test folders with ``apn evaluate``; print a table (MRE, PCK@10, present landmarks
reported absent; MRE and PCK are over the landmarks the model reported, as in ``apn
evaluate``). Everything runs through the same CLI a user runs; rendered folders are reused
when the script is run again with the same --out.

python benchmarks/heldout_family.py --family export-8bit --preset default --minutes 30
python benchmarks/heldout_family.py --family all --preset default --minutes 30 --device cuda
python benchmarks/heldout_family.py --family cr-film --preset tiny --minutes 1 --n-train 24 --n-test 8
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from apn_core.synth.families import FAMILIES


def apn(*args: str) -> None:
    """Run ``apn ARGS`` (this interpreter), failing loudly with its output."""
    cmd = [sys.executable, "-m", "apn_core", *args]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")


def synth(out: Path, n: int, seed: int, families: list[str], args) -> Path:
    if (out / "landmarks.csv").exists():
        return out  # reuse a folder rendered by an earlier run with the same arguments
    apn(
        "synth",
        str(out),
        "-n",
        str(n),
        "--seed",
        str(seed),
        "--spacing",
        str(args.spacing),
        "--families",
        ",".join(families),
        "--workers",
        str(args.workers),
    )
    return out


def evaluate(data: Path, run: Path, name: str) -> dict:
    report = run / f"eval_{name}"
    apn("evaluate", str(data), "--model", str(run), "--out", str(report))
    metrics = json.loads((report / "evaluation.json").read_text())
    c, m = metrics["counts"], metrics["all"]
    return {
        "n": m["n"],
        "mre": m.get("mre", float("nan")),
        "pck10": m.get("pck@10", float("nan")),
        "missed": c["present_reported_absent"],
        "present": c["present"],
        "images": c["images"],
    }


def held_out(family: str, args) -> list[tuple[str, dict]]:
    others = [f for f in FAMILIES if f != family]
    root = args.out / family
    data = root / "data"
    train = synth(data / "train", args.n_train, args.seed, others, args)
    test_in = synth(data / "test_in", args.n_test, args.seed + 1, others, args)
    test_out = synth(data / "test_heldout", args.n_test, args.seed + 2, [family], args)
    run = root / f"run_{args.preset}_{args.minutes:g}min"
    extra = [
        "--device",
        args.device,
        "--workers",
        str(args.workers),
        "--max-minutes",
        str(args.minutes),
    ]
    for flag in ("epochs_pretrain", "epochs_adversarial"):
        if getattr(args, flag) is not None:
            extra += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    t0 = time.perf_counter()
    apn("train", str(train), "--out", str(run), "--preset", args.preset, *extra)
    minutes = (time.perf_counter() - t0) / 60
    print(
        f"[{family}] trained {minutes:.1f} min on {args.n_train} images of {len(others)} families -> {run}",
        file=sys.stderr,
    )
    return [
        (f"in-distribution ({len(others)} families)", evaluate(test_in, run, "in_distribution")),
        (f"held out: {family}", evaluate(test_out, run, "heldout")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--family", default="all", help=f"one of {', '.join(FAMILIES)}, or all")
    parser.add_argument("--preset", default="default", help="apn train --preset")
    parser.add_argument("--minutes", type=float, default=30.0, help="apn train --max-minutes")
    parser.add_argument("--epochs-pretrain", type=int, help="apn train --epochs-pretrain")
    parser.add_argument("--epochs-adversarial", type=int, help="apn train --epochs-adversarial")
    parser.add_argument("--n-train", type=int, default=400, help="training images")
    parser.add_argument("--n-test", type=int, default=100, help="images per test folder")
    parser.add_argument("--spacing", type=float, default=0.5, help="mm/px of the rendered images")
    parser.add_argument("--seed", type=int, default=1000, help="training seed; tests use +1, +2")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--workers", type=int, default=2, help="processes for rendering and decoding"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/heldout_family"), help="work folder")
    args = parser.parse_args()
    families = list(FAMILIES) if args.family == "all" else [args.family]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        parser.error(f"unknown family {unknown[0]!r}; choose from {', '.join(FAMILIES)} or all")
    rows = []
    for family in families:
        rows += held_out(family, args)
    print(
        f"preset {args.preset}, {args.minutes:g} min of training, {args.n_train} training and "
        f"{args.n_test} test images per folder at {args.spacing} mm/px"
    )
    print(
        f"| {'test set':<34} | images | landmarks | MRE (mm) | PCK@10 | present reported absent |"
    )
    print(f"| {'-' * 34} | -----: | --------: | -------: | -----: | ----------------------: |")
    for name, m in rows:  # MRE and PCK over the landmarks the model reported (n of them)
        mre, pck = (
            (f"{m['mre']:8.2f}", f"{100 * m['pck10']:5.1f}%")
            if m["n"]
            else (f"{'–':>8}", f"{'–':>6}")
        )
        print(
            f"| {name:<34} | {m['images']:>6} | {m['n']:>9} | {mre} | {pck} "
            f"| {m['missed']:>12} of {m['present']:<8} |"
        )


if __name__ == "__main__":
    main()
