"""Time the synthetic generator per image at several pixel spacings (median of runs).

python benchmarks/synth_speed.py
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

from apn_core.synth import SynthConfig, generate_case


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spacings", default="1.0,0.5,0.143")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU(s); median over {args.runs} cases per spacing")
    print(f"{'spacing (mm/px)':>16} {'image (rows×cols)':>18} {'median (s)':>11} {'max (s)':>8}")
    for spacing in (float(s) for s in args.spacings.split(",")):
        times, shape = [], None
        for i in range(args.runs):
            t0 = time.perf_counter()
            case = generate_case(0, i, SynthConfig(spacing_mm=spacing))
            times.append(time.perf_counter() - t0)
            shape = case.stored.shape
        print(
            f"{spacing:>16g} {f'{shape[0]}×{shape[1]}':>18} {statistics.median(times):>11.2f} {max(times):>8.2f}"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # single process: fine
    print(f"peak resident memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
