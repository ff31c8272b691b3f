"""End-to-end inference on a full-size long-leg radiograph against the bare decode:
decode-only (``pydicom.dcmread(path).pixel_array``), read (``read_radiograph``),
preprocess, network + decode, total, the ratio total / decode-only, and the memory one
prediction adds (peak resident memory above what the process held before it) against the
pixel data's size — for ``default``, ``default`` + flip, ``seed`` and the shipped model
(``bundled``: the bundled weights, its 768 × 192 input, flip and calibrated review), on 1
and 2 threads; median over runs.

Each (model, threads) runs in its own fresh process on the same 16-bit DICOM
(~7300×2800 at 0.143 mm/px, rendered by the synthetic generator). Untrained weights time
the same as trained ones. The peak is reset before each run (``/proc/self/clear_refs``),
so it is that run's own.

    python benchmarks/inference_speed.py --runs 7
    python benchmarks/inference_speed.py --runs 7 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("decode-only", "read", "preprocess", "network+decode", "total", "added_mb")


def memory_mb() -> tuple[float, float]:
    """This process's resident memory now and its peak since the last reset (Linux)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def reset_peak() -> None:
    """Start a new peak-RSS measurement (``VmHWM`` := current RSS)."""
    Path("/proc/self/clear_refs").write_text("5")


def measure(preset: str, path: str, runs: int, flip: bool, threads: int) -> dict:
    """Runs inside the child process."""
    import pydicom
    import torch

    from apn_core.inference import Predictor
    from apn_core.io import read_radiograph

    torch.set_num_threads(threads)
    p = Predictor.load("default") if preset == "bundled" else Predictor.from_preset(preset)
    p.flip_test = flip
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    pixel_mb = 0.0
    for i in range(runs + 1):
        t0 = time.perf_counter()
        decoded = pydicom.dcmread(path).pixel_array
        t1 = time.perf_counter()
        pixel_mb = decoded.nbytes / 2**20
        del decoded
        before, _ = memory_mb()
        reset_peak()
        t2 = time.perf_counter()
        r = read_radiograph(path)
        t3 = time.perf_counter()
        tensor, box = p.prepare(r.pixels)
        t4 = time.perf_counter()
        p.finish(p.forward(tensor[None]).sample(0), box, r.spacing)
        t5 = time.perf_counter()
        _, peak = memory_mb()
        del r, tensor
        if i:  # the first run warms up
            values = (t1 - t0, t3 - t2, t4 - t3, t5 - t4, t5 - t2, peak - before)
            for k, v in zip(STAGES, values, strict=True):
                stages[k].append(v)
    out = {k: statistics.median(v) for k, v in stages.items()}
    out["pixel_mb"] = pixel_mb
    out["shape"] = list(box.image_shape)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--threads", default="1,2", help="torch thread counts to compare (default 1,2)"
    )
    parser.add_argument(
        "--child",
        nargs=5,
        metavar=("PRESET", "PATH", "RUNS", "FLIP", "THREADS"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.child:
        preset, path, runs, flip, threads = args.child
        print(json.dumps(measure(preset, path, int(runs), flip == "1", int(threads))))
        return
    from apn_core.io import write_dicom
    from apn_core.synth import SynthConfig, generate_case

    thread_counts = [int(t) for t in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        case = generate_case(0, 0, SynthConfig(spacing_mm=0.143, formats=("dicom",)))
        path = str(Path(tmp) / "full.dcm")
        write_dicom(path, case.stored, (0.143, 0.143), case.photometric, case.bits)
        size_mb = Path(path).stat().st_size / 1e6
        results = {}
        for threads in thread_counts:
            for preset, flip in (
                ("default", False),
                ("default", True),
                ("seed", False),
                ("bundled", True),
            ):
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    preset,
                    path,
                    str(args.runs),
                    str(int(flip)),
                    str(threads),
                ]
                res = subprocess.run(cmd, capture_output=True, text=True, check=True)
                results[(preset, flip, threads)] = json.loads(res.stdout.strip().splitlines()[-1])
    first = next(iter(results.values()))
    shape = first["shape"]
    print(
        f"{shape[0]}×{shape[1]} px 16-bit DICOM ({size_mb:.0f} MB, pixel data "
        f"{first['pixel_mb']:.0f} MiB); {os.cpu_count()} CPU cores; median of {args.runs} runs; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print()
    print(
        "| model | threads | decode-only | read | preprocess | network + decode | total (s) "
        "| total / decode-only | memory added / pixel data |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (preset, flip, threads), r in results.items():
        name = f"`{preset}`" + (" + flip" if flip else "")
        ratio = r["total"] / r["decode-only"]
        mem = r["added_mb"] / r["pixel_mb"]
        print(
            f"| {name} | {threads} | {r['decode-only']:.3f} | {r['read']:.3f} | "
            f"{r['preprocess']:.3f} | {r['network+decode']:.3f} | {r['total']:.3f} | "
            f"{ratio:.2f}× | {r['added_mb']:.0f} MiB = {mem:.2f}× |"
        )


if __name__ == "__main__":
    main()
