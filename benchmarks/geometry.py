"""Input geometry for long-leg radiographs: resolution, pixel use and generator speed.

A long-leg radiograph is ~1050 × 400 mm (2.6:1). For each candidate letterbox input this
prints the mm per input and heatmap pixel, the share of input pixels that show the
radiograph (the rest is padding), and the median CPU forward time of the ``default``
generator at that size, so the default can be chosen by measurement.

    python benchmarks/geometry.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from apn_core.config import GeometryConfig
from apn_core.geometry import Letterbox
from apn_core.models import build_networks
from apn_core.presets import get_preset

CANDIDATES = ((256, 256), (384, 144), (512, 192), (640, 240), (768, 288))
RADIOGRAPH_MM = (1050.0, 400.0)
SPACING = 0.143


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(2)
    shape = (round(RADIOGRAPH_MM[0] / SPACING), round(RADIOGRAPH_MM[1] / SPACING))
    print(
        f"radiograph {shape[0]}×{shape[1]} px at {SPACING} mm/px; default generator; {torch.get_num_threads()} threads"
    )
    print(
        f"{'input':>9} {'mm/input px':>12} {'mm/heatmap px':>14} {'pixels used':>12} {'forward ms':>11}"
    )
    for h, w in CANDIDATES:
        geom = GeometryConfig(height=h, width=w, stride=4)
        box = Letterbox.fit(shape, geom)
        mm = max(box.input_spacing((SPACING, SPACING)))
        nh, nw = box.resized_shape
        cfg = get_preset("default").replace(geometry={"height": h, "width": w})
        net = build_networks(cfg).generator.eval()
        x = torch.rand(1, 1, h, w)
        times = []
        with torch.no_grad():
            net(x)
            for _ in range(args.runs):
                t0 = time.perf_counter()
                net(x)
                times.append(time.perf_counter() - t0)
        print(
            f"{f'{h}×{w}':>9} {mm:>12.2f} {mm * 4:>14.1f} {100 * nh * nw / (h * w):>11.0f}% "
            f"{1000 * statistics.median(times):>11.0f}"
        )


if __name__ == "__main__":
    main()
