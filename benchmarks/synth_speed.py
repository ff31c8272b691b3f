"""Time the synthetic generator per image at several pixel spacings (median of runs), over
all style families and per family.

python benchmarks/synth_speed.py
python benchmarks/synth_speed.py --spacings 0.5 --runs 20 --per-family
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

from apn_core.synth import SynthConfig, generate_case
from apn_core.synth.families import FAMILIES


def time_cases(spacing: float, runs: int, families: tuple[str, ...]) -> tuple[list[float], tuple]:
    cfg = SynthConfig(spacing_mm=spacing, families=families)
    generate_case(0, 0, cfg)  # warm caches (fonts, imports)
    times, shape = [], None
    for i in range(runs):
        t0 = time.perf_counter()
        case = generate_case(0, i, cfg)
        times.append(time.perf_counter() - t0)
        shape = case.stored.shape
    return times, shape


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spacings", default="1.0,0.5,0.143")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--per-family", action="store_true", help="also one row per family")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU(s); median over {args.runs} cases per row")
    print(
        f"{'spacing (mm/px)':>16} {'families':>16} {'last image':>12} {'median (s)':>11} {'max (s)':>8}"
    )
    for spacing in (float(s) for s in args.spacings.split(",")):
        rows = [("all", tuple(FAMILIES))]
        if args.per_family:
            rows += [(name, (name,)) for name in FAMILIES]
        for label, families in rows:
            times, shape = time_cases(spacing, args.runs, families)
            print(
                f"{spacing:>16g} {label:>16} {f'{shape[0]}×{shape[1]}':>12} "
                f"{statistics.median(times):>11.2f} {max(times):>8.2f}"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # single process: fine
    print(f"peak resident memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
