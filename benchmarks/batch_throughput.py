"""Batch prediction throughput (radiographs per second) over a folder, as ``apn predict``
runs it: DataLoader workers read and letterbox, the network runs on batches.

    python benchmarks/batch_throughput.py --n 24 --spacing 0.143
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from apn_core.inference.jobs import run_predict_job
from apn_core.synth import SynthConfig, write_synthetic_folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--spacing", type=float, default=0.143)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = write_synthetic_folder(
            Path(tmp) / "in", args.n, 77, SynthConfig(spacing_mm=args.spacing), workers=2
        )
        print(
            f"{args.n} synthetic radiographs at {args.spacing} mm/px; {os.cpu_count()} CPU cores; model {args.model}"
        )
        print(f"{'reader workers':>15}{'batch':>7}{'flip':>6}{'seconds':>9}{'radiographs/s':>15}")
        for workers, batch, flip in ((0, 1, True), (1, 4, True), (2, 4, True), (1, 4, False)):
            out = Path(tmp) / f"out_{workers}_{batch}_{flip}"
            t0 = time.perf_counter()
            summary = run_predict_job(
                [data], out, args.model, batch_size=batch, workers=workers, flip_test=flip
            )
            seconds = time.perf_counter() - t0
            assert len(summary.done) == args.n, summary.line()
            print(
                f"{workers:>15}{batch:>7}{'yes' if flip else 'no':>6}{seconds:>9.1f}{args.n / seconds:>15.2f}"
            )


if __name__ == "__main__":
    main()
