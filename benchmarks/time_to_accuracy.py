"""Time to accuracy: wall time from launching ``apn train`` (reading and caching the images
included) until the validation PCK@10 first reaches 95 % and until the validation MRE first
reaches 1 mm.

Renders the folders with ``apn synth`` when they do not exist (``--render N``), runs
``apn train TRAIN --val VAL --progress json`` for ``--minutes``, follows its ``epoch``
events (validation runs every epoch) and prints a Markdown table (and ``--json``).

    python benchmarks/time_to_accuracy.py data/tta_train data/tta_val --render 400 \\
        --render-val 100 --spacing 0.5 --device cuda --minutes 5 --out runs/tta_gpu
    OMP_NUM_THREADS=2 python benchmarks/time_to_accuracy.py data/tta_train data/tta_val \\
        --device cpu --minutes 10 --out runs/tta_cpu

Options after ``--`` go to ``apn train`` (e.g. ``-- --epochs-pretrain 20``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def render(folder: Path, n: int, seed: int, spacing: float, workers: int) -> None:
    if (folder / "landmarks.csv").exists():
        return
    cmd = [sys.executable, "-m", "apn_core", "synth", str(folder), "-n", str(n)]
    cmd += ["--seed", str(seed), "--spacing", str(spacing), "--workers", str(workers)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def follow(cmd: list[str]) -> tuple[list[dict], dict, float]:
    """Run ``cmd`` (``apn train --progress json``): its epoch events, each with ``launch_s``
    (seconds since launch, measured here), its start event, and the total seconds."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    epochs, start = [], {}
    for line in proc.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "epoch":
            event["launch_s"] = time.monotonic() - t0
            epochs.append(event)
            print(
                f"  epoch {event['epoch']:>4} {event['phase']:<11} {event['launch_s']:7.1f} s  "
                f"PCK@10 {100 * (event.get('val_pck@10') or 0):5.1f} %  "
                f"MRE {event.get('val_mre') or float('nan'):7.2f} mm  "
                f"{event['images_per_s']:8.1f} img/s",
                file=sys.stderr,
                flush=True,
            )
        elif event.get("event") == "start":
            start = event
        elif event.get("event") == "error":
            print(f"apn train: {event['message']}", file=sys.stderr)
    proc.wait()
    return epochs, start, time.monotonic() - t0


def first(epochs: list[dict], test) -> dict | None:
    return next((e for e in epochs if test(e)), None)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("train", type=Path)
    parser.add_argument("val", type=Path)
    parser.add_argument("--render", type=int, default=400, help="images to render for TRAIN")
    parser.add_argument("--render-val", type=int, default=100)
    parser.add_argument("--spacing", type=float, default=0.5, help="mm/px of rendered images")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2, help="decoding / rendering processes")
    parser.add_argument("--out", type=Path, default=Path("runs/tta"))
    parser.add_argument("--pck", type=float, default=0.95)
    parser.add_argument("--mre", type=float, default=1.0)
    parser.add_argument("--json", type=Path, metavar="OUT")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    extra = argv[cut + 1 :]  # apn train options
    t = time.monotonic()
    render(args.train, args.render, args.seed, args.spacing, args.workers)
    render(args.val, args.render_val, args.seed + 4000, args.spacing, args.workers)
    rendered = time.monotonic() - t
    run = args.out
    n = 0
    while (run / "config.json").exists():  # never reuse a run folder
        n += 1
        run = args.out.with_name(f"{args.out.name}_{n}")
    cmd = [sys.executable, "-m", "apn_core", "train", str(args.train), "--val", str(args.val)]
    cmd += ["--out", str(run), "--preset", args.preset, "--device", args.device]
    cmd += ["--max-minutes", str(args.minutes), "--workers", str(args.workers)]
    cmd += ["--progress", "json", *extra]
    print(f"rendered in {rendered:.0f} s; {' '.join(cmd[2:])}", file=sys.stderr, flush=True)
    epochs, start, total = follow(cmd)
    pck = first(epochs, lambda e: (e.get("val_pck@10") or 0) >= args.pck)
    mre = first(epochs, lambda e: e.get("val_mre") is not None and e["val_mre"] <= args.mre)
    last = epochs[-1] if epochs else {}
    best = min((e["val_mre"] for e in epochs if e.get("val_mre") is not None), default=None)

    def when(e: dict | None) -> str:
        return f"{e['launch_s']:.0f} s (epoch {e['epoch']})" if e else "not reached"

    def speed(phase: str) -> str:
        values = sorted(e["images_per_s"] for e in epochs if e["phase"] == phase)
        return f"{values[len(values) // 2]:.0f}" if values else "–"

    print(
        f"| preset | device | batch | train / val images | epochs | to PCK@10 ≥ {100 * args.pck:g} % "
        f"| to MRE ≤ {args.mre:g} mm | best MRE (mm) | last PCK@10 | img/s pre / adv | run time |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {args.preset} | {start.get('device', args.device)} | {start.get('batch_size', '?')} | "
        f"{start.get('train_images', '?')} / {start.get('val_images', '?')} | {len(epochs)} | "
        f"{when(pck)} | {when(mre)} | {best if best is None else round(best, 2)} | "
        f"{100 * (last.get('val_pck@10') or 0):.1f} % | {speed('pretrain')} / "
        f"{speed('adversarial')} | {total:.0f} s |"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"command": cmd, "start": start, "epochs": epochs, "total_s": total}, indent=2
            )
        )


if __name__ == "__main__":
    main()
