"""Pixel spacing from a ruler or ball on the film, measured against the truth (issue 21).

**Synthetic films** (``apn_core.synth`` with the calibration settings below): rulers of four
styles and 25 mm balls at a drawn magnification (1.0–1.2 on the detector), in varied
places, a quarter partly covered by a lead strip, some cut by collimation or the film's
edge, and films without either. The truth (object, spacing *at the object*, visible ruler
length, visible share of the ball's outline) is the phantom record's ``calibration``
entry. Each film is estimated as ``apn predict`` does: ``auto`` (rulers), and
``ball:25mm`` (balls), with the file's own spacing as the hint where the format carries
one (DICOM, TIFF) and none for PNG/JPEG exports.

**Real films**: the OAI half-films in ``../shared/realdata`` (train, test and the held-out
dev set, reported apart), whose ruler gives ≈ 1.32 mm/px (PROVENANCE.md: by
autocorrelation, ± 3 %).

**Speed**: estimate vs ``Predictor.predict_file`` on full-size synthetic DICOMs.

    python benchmarks/spacing_object.py --n 300 --seed 21 --out runs/spacing_object

prints Markdown tables and writes ``spacing_object.json`` and ``spacing_object.csv``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from apn_core.calibration_object import estimate_spacing
from apn_core.synth.config import SynthConfig
from apn_core.synth.generate import generate_case
from apn_core.synth.storage import CARRIES_SPACING
from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.csv_cells import csv_text

CALIBRATION = {  # the calibration benchmark's generator settings (every family)
    "accessories.ruler": 0.55,
    "accessories.ruler_places": "left,right,between,lateral",
    "accessories.ruler_partial": 0.3,
    "accessories.ruler_styles": "cm,mm,5mm,numbered",
    "accessories.calibration_ball": 0.45,
    "accessories.ball_places": "hip,knee,edge",
    "accessories.magnification": "1.0,1.2",
    "accessories.occluded": 0.25,
}
ADULT = ("dr-clinic", "cr-film", "export-8bit", "postop")
RULER_VISIBLE_MM = 150.0  # a ruler counts as on the film with this much of it exposed
BALL_VISIBLE = 0.9  # a ball, with this share of its outline exposed
REAL = ("oai-12m/train", "oai-12m/test", "oai-36m-dev/images")
OAI_SPACING = 1.32


def synthetic(n: int, seed: int, spacing: float, families: tuple[str, ...]) -> list[dict]:
    config = SynthConfig(spacing_mm=spacing, families=families, overrides=CALIBRATION)
    rows = []
    for i in range(n):
        case = generate_case(seed, i, config)
        t = case.meta["calibration"]
        hint = case.spacing if case.file_format in CARRIES_SPACING else None
        pixels = case.bone_bright
        film_mm = max(pixels.shape) * case.spacing
        for mode, kind in (("auto", "ruler"), ("ball:25mm", "ball")):
            start = time.perf_counter()
            found = estimate_spacing(pixels, mode, expected_mm=hint)
            seconds = time.perf_counter() - start
            present = t[kind]
            visible = (
                t["ruler_mm"] >= RULER_VISIBLE_MM
                if kind == "ruler"
                else t["ball_visible"] >= BALL_VISIBLE
            )
            rows.append(
                {
                    "image": i,
                    "family": case.family,
                    "format": case.file_format,
                    "object": kind,
                    "condition": _condition(t, kind, present, visible),
                    "style": t["ruler_style"] if kind == "ruler" else None,
                    "occluded": bool(t["occluded"]),
                    "child": bool(case.meta.get("child")),
                    "film_mm": round(film_mm),
                    "hint": hint is not None,
                    "truth_mm": t["spacing_mm"],
                    "found": found is not None,
                    "estimate_mm": None if found is None else found.spacing_mm,
                    "error": None if found is None else found.spacing_mm / t["spacing_mm"] - 1,
                    "detail": "" if found is None else found.detail,
                    "seconds": seconds,
                }
            )
    return rows


def _condition(t: dict, kind: str, present: bool, visible: bool) -> str:
    if not present:
        return "absent"
    if not visible:
        return "cut"  # by collimation, the film's edge or a lead strip: mostly hidden
    return "occluded" if t["occluded"] else "visible"


def summarise(rows: list[dict], label: str) -> dict:
    """n, found, |error| median and 95th percentile, share within 1 %, false spacings."""
    n = len(rows)
    found = [r for r in rows if r["found"]]
    errors = np.array([abs(r["error"]) for r in found]) if found else np.array([])
    within = sum(1 for r in found if abs(r["error"]) <= 0.01)
    wrong = sum(1 for r in found if abs(r["error"]) > 0.01)
    return {
        "condition": label,
        "n": n,
        "found": len(found),
        "median_pct": float(np.median(errors) * 100) if len(errors) else None,
        "p95_pct": float(np.percentile(errors, 95) * 100) if len(errors) else None,
        "within_1pct": within,
        "wrong": wrong,
    }


def synthetic_table(rows: list[dict]) -> list[dict]:
    on_film = [r for r in rows if r["condition"] in ("visible", "occluded")]
    out = [
        summarise(on_film, "ruler or ball on the film (its mode)"),
        summarise(
            [r for r in rows if r["object"] == "ruler" and r["condition"] == "absent"],
            "no ruler (auto): a found one is a false spacing",
        ),
        summarise(
            [r for r in rows if r["object"] == "ball" and r["condition"] == "absent"],
            "no ball (ball:25mm): a found one is a false spacing",
        ),
    ]
    for kind in ("ruler", "ball"):
        mine = [r for r in rows if r["object"] == kind]
        for condition in ("visible", "occluded", "cut", "absent"):
            sel = [r for r in mine if r["condition"] == condition]
            if sel:
                out.append(summarise(sel, f"{kind}: {condition}"))
        if kind == "ruler":
            on = [r for r in mine if r["condition"] in ("visible", "occluded")]
            for style in ("cm", "mm", "5mm", "numbered"):
                sel = [r for r in on if r["style"] == style]
                if sel:
                    out.append(summarise(sel, f"ruler on the film, style {style}"))
            for fam in sorted({r["family"] for r in on}):
                sel = [r for r in on if r["family"] == fam]
                out.append(summarise(sel, f"ruler on the film, {fam}"))
            short = [r for r in on if r["film_mm"] < 800]
            if short:
                out.append(summarise(short, "ruler on the film, film < 800 mm"))
            exports = [r for r in on if not r["hint"]]
            out.append(summarise(exports, "ruler on the film, no spacing in the file"))
    return out


def real(shared: Path) -> tuple[list[dict], list[dict]]:
    from PIL import Image

    rows, table = [], []
    for split in REAL:
        folder = shared / "realdata" / split
        files = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
        for path in files:
            pixels = np.asarray(Image.open(path).convert("L"))
            start = time.perf_counter()
            found = estimate_spacing(pixels, "auto")
            rows.append(
                {
                    "split": split,
                    "image": path.name,
                    "found": found is not None,
                    "estimate_mm": None if found is None else found.spacing_mm,
                    "error": None if found is None else found.spacing_mm / OAI_SPACING - 1,
                    "seconds": time.perf_counter() - start,
                }
            )
        sel = [r for r in rows if r["split"] == split]
        if sel:
            errs = np.array([r["error"] for r in sel if r["found"]])
            table.append(
                {
                    "split": split,
                    "n": len(sel),
                    "found": int(sum(r["found"] for r in sel)),
                    "within_3pct": int(np.sum(np.abs(errs) <= 0.03)),
                    "median_mm": float(np.median([r["estimate_mm"] for r in sel if r["found"]])),
                    "p5_p95_pct": [
                        float(np.percentile(errs, 5) * 100),
                        float(np.percentile(errs, 95) * 100),
                    ],
                    "ms_median": float(np.median([r["seconds"] for r in sel]) * 1000),
                }
            )
    return rows, table


def speed(n: int, seed: int) -> list[dict]:
    """Estimate vs prediction on full-size (0.143 mm/px) synthetic DICOMs with a ruler."""
    import tempfile

    from apn_core.inference import Predictor
    from apn_core.io import read_radiograph
    from apn_core.synth.generate import write_synthetic_folder

    overrides = {**CALIBRATION, "accessories.ruler": 1.0, "storage.formats": "dicom"}
    config = SynthConfig(spacing_mm=0.143, families=("dr-clinic",), overrides=overrides)
    predictor = Predictor.load("default")
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic_folder(tmp, n, seed=seed, config=config)
        lines = (Path(tmp) / "phantoms.jsonl").read_text().splitlines()
        truths = [json.loads(line)["calibration"] for line in lines]
        for path, truth in zip(sorted(Path(tmp).glob("*.dcm")), truths, strict=True):
            radiograph = read_radiograph(path)
            predictor.predict_file(path)  # warm
            est, pred = [], []
            for _ in range(5):
                start = time.perf_counter()
                found = estimate_spacing(
                    radiograph.pixels, "auto", expected_mm=radiograph.spacing[0]
                )
                est.append(time.perf_counter() - start)
                start = time.perf_counter()
                predictor.predict_file(path)
                pred.append(time.perf_counter() - start)
            out.append(
                {
                    "image": path.name,
                    "shape": list(radiograph.shape),
                    "estimate_ms": min(est) * 1000,
                    "predict_ms": min(pred) * 1000,
                    "error_pct": None
                    if found is None
                    else (found.spacing_mm / truth["spacing_mm"] - 1) * 100,
                }
            )
    return out


def markdown(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.2f}"
        if isinstance(v, list):
            return " / ".join(fmt(x) for x in v)
        return "–" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=300, help="synthetic films per family group")
    p.add_argument("--seed", type=int, default=21)
    p.add_argument(
        "--spacing", type=float, default=0.5, help="detector mm/px of the synthetic films"
    )
    p.add_argument("--speed", type=int, default=3, help="full-size films timed (0: skip)")
    p.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared"
    )
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    results: dict = {"settings": CALIBRATION, "args": {k: str(v) for k, v in vars(args).items()}}
    rows = synthetic(args.n, args.seed, args.spacing, ADULT)
    children = synthetic(max(args.n // 4, 1), args.seed + 1, args.spacing, ("paeds-deformity",))
    columns = ["condition", "n", "found", "median_pct", "p95_pct", "within_1pct", "wrong"]
    table = synthetic_table(rows)
    child_table = synthetic_table(children)
    print(f"## Synthetic films ({args.n}, adult families {', '.join(ADULT)}), |error| in %\n")
    print(markdown(table, columns))
    print(f"\n## Synthetic films ({len(children) // 2}, paeds-deformity: children, short films)\n")
    print(markdown(child_table, columns))
    results.update(synthetic=table, synthetic_children=child_table)

    if args.shared.is_dir():
        real_rows, real_table = real(args.shared)
        print("\n## Real OAI films vs 1.32 mm/px (PROVENANCE.md, ± 3 %)\n")
        print(
            markdown(
                real_table,
                ["split", "n", "found", "within_3pct", "median_mm", "p5_p95_pct", "ms_median"],
            )
        )
        misses = [r for r in real_rows if not r["found"] or abs(r["error"]) > 0.03]
        for r in misses:
            value = "not found" if not r["found"] else f"{r['estimate_mm']:.4f} mm/px"
            print(f"- {r['split']}/{r['image']}: {value}")
        results.update(real=real_table, real_misses=misses)
    else:
        print(f"\n(real OAI films: {args.shared} is absent — skipped)")

    if args.speed:
        timing = speed(args.speed, args.seed)
        print("\n## Speed on full-size films (min of 5, this machine)\n")
        print(markdown(timing, ["image", "shape", "estimate_ms", "predict_ms", "error_pct"]))
        results["speed"] = timing

    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(
            args.out / "spacing_object.json", json.dumps(results, indent=1, default=str)
        )
        fields = list(rows[0])
        table = [fields, *([r.get(k, "") for k in fields] for r in rows + children)]
        write_text_atomic(args.out / "spacing_object.csv", csv_text(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
