"""Signed landmark offsets along and across the leg: where a model puts the ankle (or any
landmark) relative to the truth, not only how far away.

``apn evaluate`` scores distances of reported landmarks; a systematic placement error (an
ankle put on the talus or the heel instead of the tibiotalar joint) shows as a *bias* along
the leg, and a landmark the model calls absent is not scored at all. This script decodes
every landmark's best heatmap peak (reported present or not), and for each labelled one
gives the offset from the truth in millimetres:

- ``along``: along the leg's tibial axis (truth knee → truth ankle; vertical without a knee),
  + distal;
- ``across``: perpendicular to it, + lateral (away from the body's midline).

It prints, per landmark: n, how many the model reported present, the mean and median
``along`` and ``across`` (the bias), their SD, the MRE and PCK@10 of the decoded peaks
(every labelled landmark), and writes one row per landmark to ``--csv``.

python benchmarks/ankle_bias.py /work/data/oai12m/test --model default
python benchmarks/ankle_bias.py /work/data/oai12m/train --model runs/x --limit 80 --csv out.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from apn_core.dataset import load_labelled_folder
from apn_core.inference.predictor import Predictor
from apn_core.io.radiograph import read_radiograph
from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.csv_cells import csv_text

PARTS = ("femur", "knee", "ankle")


def leg_axes(truth: np.ndarray, names: tuple[str, ...], side: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (image x, y) ``distal`` (truth knee → truth ankle, or straight down)
    and ``lateral`` of one leg (the patient's right leg is on the image's left)."""
    knee, ankle = truth[names.index(f"knee_{side}")], truth[names.index(f"ankle_{side}")]
    d = ankle - knee if np.isfinite(knee).all() and np.isfinite(ankle).all() else np.array([0, 1])
    d = d / max(float(np.linalg.norm(d)), 1e-9)
    lateral = -1.0 if side == "right" else 1.0
    return d, lateral * np.array([d[1], -d[0]])


def offsets(model: str, data: Path, limit: int | None, flip: bool) -> list[dict]:
    """One row per labelled landmark: decoded peak, presence, signed offsets in mm."""
    folder = load_labelled_folder(data)
    predictor = Predictor.load(model)
    predictor.flip_test = flip
    names = predictor.landmarks
    items = folder.items[:limit] if limit else folder.items
    rows = []
    for item in items:
        image = read_radiograph(item.path, item.spacing, "landmarks.csv")
        tensor, box = predictor.prepare(image.pixels)
        out = predictor.forward(tensor[None]).sample(0)
        decoded = box.to_image(out.xy.cpu().numpy())
        present = out.peak.cpu().numpy() >= predictor.config.loss.presence_threshold
        truth = item.labels.xy
        sy, sx = item.spacing
        for i, name in enumerate(names):
            if not item.labels.present[i]:
                continue
            side = name.rsplit("_", 1)[1]
            d, lat = leg_axes(truth, names, side)
            delta_mm = (decoded[i] - truth[i]) * np.array([sx, sy])
            rows.append(
                {
                    "image": item.labels.image,
                    "landmark": name,
                    "along_mm": round(float(delta_mm @ d), 2),
                    "across_mm": round(float(delta_mm @ lat), 2),
                    "error_mm": round(float(np.linalg.norm(delta_mm)), 2),
                    "reported": bool(present[i]),
                }
            )
    return rows


def summary(rows: list[dict]) -> dict[str, dict]:
    """Per landmark: n, reported, bias (mean/median) and SD along and across, MRE, PCK@10."""
    table = {}
    for name in sorted(
        {r["landmark"] for r in rows}, key=lambda n: (PARTS.index(n.rsplit("_", 1)[0]), n)
    ):
        sel = [r for r in rows if r["landmark"] == name]
        along = np.array([r["along_mm"] for r in sel])
        across = np.array([r["across_mm"] for r in sel])
        err = np.array([r["error_mm"] for r in sel])
        table[name] = {
            "n": len(sel),
            "reported": sum(r["reported"] for r in sel),
            "along_mean": float(along.mean()),
            "along_median": float(np.median(along)),
            "along_sd": float(along.std()),
            "across_mean": float(across.mean()),
            "across_sd": float(across.std()),
            "mre": float(err.mean()),
            "pck10": float((err <= 10).mean() * 100),
        }
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="labelled folder")
    ap.add_argument("--model", default="default", help="run folder or 'default'")
    ap.add_argument("--limit", type=int, default=None, help="first N images only")
    ap.add_argument("--csv", type=Path, default=None, help="write one row per landmark here")
    ap.add_argument("--json", type=Path, default=None, help="write the summary here")
    ap.add_argument("--no-flip", action="store_true", help="skip the flip test")
    args = ap.parse_args(argv)
    rows = offsets(args.model, args.data, args.limit, not args.no_flip)
    if args.csv:
        fields = list(rows[0])
        table_rows = [fields, *([r[k] for k in fields] for r in rows)]
        write_text_atomic(args.csv, csv_text(table_rows))
    table = summary(rows)
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    print(f"{args.data} — model {args.model} (along: + distal; across: + lateral; mm)")
    print(
        f"{'landmark':12} {'n':>4} {'found':>5} {'along mean':>10} {'median':>7} {'SD':>6} "
        f"{'across':>7} {'SD':>6} {'MRE':>6} {'PCK@10':>7}"
    )
    for name, t in table.items():
        print(
            f"{name:12} {t['n']:4d} {t['reported']:5d} {t['along_mean']:10.1f} "
            f"{t['along_median']:7.1f} {t['along_sd']:6.1f} {t['across_mean']:7.1f} "
            f"{t['across_sd']:6.1f} {t['mre']:6.1f} {t['pck10']:6.0f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
