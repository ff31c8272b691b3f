"""End-to-end inference on a full-size long-leg radiograph: read → preprocess → predict →
decode, median over runs, and peak resident memory, for ``default`` and ``seed``.

Each preset runs in its own fresh process (so peak memory is its own), on the same
16-bit DICOM (~7300×2800 at 0.143 mm/px, rendered by the synthetic generator).
Untrained weights time the same as trained ones.

    python benchmarks/inference_speed.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident memory. ``ru_maxrss`` would be wrong here: Linux keeps
    it across exec, so a child started by a big parent inherits the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(preset: str, path: str, runs: int, flip: bool) -> dict:
    """Runs inside the child process."""
    import torch

    from apn_core.inference import Predictor

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    p = Predictor.from_preset(preset)
    p.flip_test = flip
    stages = {"read": [], "preprocess": [], "network+decode": [], "total": []}
    from apn_core.io import read_radiograph

    for i in range(runs + 1):
        t0 = time.perf_counter()
        r = read_radiograph(path)
        t1 = time.perf_counter()
        tensor, box = p.prepare(r.pixels)
        t2 = time.perf_counter()
        p.finish(p.forward(tensor[None]).sample(0), box, r.spacing)
        t3 = time.perf_counter()
        if i:  # the first run warms up
            for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                stages[k].append(v)
    out = {k: statistics.median(v) for k, v in stages.items()}
    out["peak_rss_mb"] = peak_rss_mb()
    out["shape"] = list(r.pixels.shape)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--child", nargs=4, metavar=("PRESET", "PATH", "RUNS", "FLIP"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        preset, path, runs, flip = args.child
        print(json.dumps(measure(preset, path, int(runs), flip == "1")))
        return
    from apn_core.io import write_dicom
    from apn_core.synth import SynthConfig, generate_case

    with tempfile.TemporaryDirectory() as tmp:
        case = generate_case(0, 0, SynthConfig(spacing_mm=0.143, formats=("dicom",)))
        path = str(Path(tmp) / "full.dcm")
        write_dicom(path, case.stored, (0.143, 0.143), case.photometric, case.bits)
        size_mb = Path(path).stat().st_size / 1e6
        results = {}
        for preset, flip in (("default", False), ("default", True), ("seed", False)):
            res = subprocess.run([sys.executable, __file__, "--child", preset, path, str(args.runs), str(int(flip))],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            results[(preset, flip)] = json.loads(res.stdout.strip().splitlines()[-1])
    shape = results[("default", False)]["shape"]
    print(
        f"{shape[0]}×{shape[1]} px 16-bit DICOM ({size_mb:.0f} MB); {os.cpu_count()} CPU cores; median of {args.runs} runs"
    )
    print(
        f"{'model':<16}{'read':>8}{'preprocess':>12}{'net+decode':>12}{'total (s)':>11}{'peak RSS':>10}"
    )
    for (preset, flip), r in results.items():
        name = preset + (" + flip" if flip else "")
        print(f"{name:<16}{r['read']:>8.3f}{r['preprocess']:>12.3f}{r['network+decode']:>12.3f}{r['total']:>11.3f}"
              f"{r['peak_rss_mb']:>8.0f} MB")  # fmt: skip
    ratio = results[("seed", False)]["total"] / results[("default", True)]["total"]
    print(f"seed / (default + flip) total time: {ratio:.1f}×")


if __name__ == "__main__":
    main()
