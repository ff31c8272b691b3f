"""Histogram of the signed along-leg offsets of one landmark, from ``ankle_bias.py --csv``
files (one curve per model): where on the leg the models put it.

python benchmarks/ankle_offsets_plot.py docs/images/ankle_offsets.png \
    shipped=bias_default.csv "old generator=bias_old.csv" "new generator=bias_new.csv"
(``LABEL=CSV``; several CSVs of one model joined with ``+``)
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ZONES = ((-np.inf, -10.0), (-10.0, 10.0), (10.0, 35.0), (35.0, np.inf))
ZONE_NAMES = ("proximal (< −10)", "joint (±10)", "talus (+10…+35)", "heel / platform (> +35)")


def offsets(spec: str, landmark: str) -> np.ndarray:
    """``along_mm`` of ``landmark`` from one or several ``+``-joined CSV files."""
    out = []
    for path in spec.split("+"):
        with open(path, newline="") as f:
            out += [float(r["along_mm"]) for r in csv.DictReader(f) if r["landmark"] == landmark]
    return np.array(out)


def zones(along: np.ndarray) -> list[float]:
    """Share (%) of offsets in each of :data:`ZONES`."""
    return [float(np.mean((along >= lo) & (along < hi)) * 100) for lo, hi in ZONES]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="PNG to write")
    ap.add_argument("runs", nargs="+", help="LABEL=CSV[+CSV...]")
    ap.add_argument("--landmark", default="ankle_right")
    args = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.0), dpi=100)
    bins = np.arange(-60, 91, 5)
    print(
        f"{'model':16} {'n':>4} {'mean':>6} {'median':>7} "
        + " ".join(f"{z:>22}" for z in ZONE_NAMES)
    )
    for spec in args.runs:
        label, _, files = spec.partition("=")
        along = offsets(files, args.landmark)
        ax.hist(np.clip(along, -59, 89), bins=bins, histtype="step", lw=1.5, label=label)
        shares = " ".join(f"{s:21.0f}%" for s in zones(along))
        print(f"{label:16} {len(along):4d} {along.mean():+6.1f} {np.median(along):+7.1f} {shares}")
    ax.axvspan(-10, 10, color="0.9", zorder=0)
    ax.set_xlabel(f"{args.landmark}: offset along the leg from the truth (mm, + distal)")
    ax.set_ylabel("films")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
