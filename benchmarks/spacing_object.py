"""Pixel spacing from a ruler or ball on the film, measured against the truth (issue 21).

**Synthetic films** (``apn_core.synth`` with the calibration settings below): rulers of four
styles and 25 mm balls at a drawn magnification (1.0–1.2 on the detector), in varied
places, a quarter partly covered by a lead strip, some cut by collimation or the film's
edge, and films without either. The truth (object, spacing *at the object*, visible ruler
length, visible share of the ball's outline) is the phantom record's ``calibration``
entry. Each film is estimated as ``apn predict`` does: ``auto`` (rulers), and
``ball:25mm`` (balls), with the file's own spacing as the hint where the format carries
one (DICOM, TIFF) and none for PNG/JPEG exports.

**Real films**: the OAI half-films in ``../shared/realdata`` (train, test and the dev
set, reported apart), whose ruler gives ≈ 1.32 mm/px (PROVENANCE.md: by autocorrelation,
± 3 %) — except 22 of the 40 36-month films, scanned at another scale: their film is
shorter (619–768 px of 1024 against 892–915) and their ruler's 2 cm numbering repeats
every 13.3 px, not 15.1 (1.505 mm/px; their tibiae are ~13 % shorter in pixels too, see
the README). Each film's reference is :func:`oai_reference`; the share within 3 % of
1.32 is reported beside it.

**Length decisions**: where a ruler's levels leave readings 2× apart and the file has no
spacing, the film's length picks one (``RulerSettings.length_decides``); the rulers are
read a second time with ``length_decides=False`` (refuse instead) to show what each costs.

**Speed**: estimate vs ``Predictor.predict_file`` on full-size synthetic DICOMs.

    python benchmarks/spacing_object.py --n 300 --seed 21 --out runs/spacing_object

``--resample 0.75,0.85,…`` also reads a quarter of the OAI train films resized (aliasing
moved to other spacings: :func:`resampled`); ``--crafted N`` N crafted rulers whose fine
ticks alias (:func:`crafted`).

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
from apn_core.calibration_object.estimate import film_length_px, work_copy
from apn_core.calibration_object.ruler import RulerSettings
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
OAI_36M_SHORT = 1.505  # the 36-month films scanned at another scale (module docstring)
SHORT_SCAN_PX = 850  # their exposed film is shorter than this (the others' ≥ 890 px)
STRICT = RulerSettings(length_decides=False)


def oai_reference(split: str, pixels: np.ndarray) -> float:
    """The spacing an OAI film's ruler should give: 1.32 mm/px, or 1.505 for a 36-month
    film whose exposed film is shorter than :data:`SHORT_SCAN_PX` (found by the film's
    letterbox, not by the ruler)."""
    if split.startswith("oai-36m"):
        work, scale = work_copy(pixels)
        if film_length_px(work) * scale < SHORT_SCAN_PX:
            return OAI_36M_SHORT
    return OAI_SPACING


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
            strict = found
            if kind == "ruler" and found is not None and "length chose" in found.detail:
                strict = estimate_spacing(pixels, mode, expected_mm=hint, ruler=STRICT)
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
                    "strict_mm": None if strict is None else strict.spacing_mm,
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
    """Each OAI film's estimate against its reference (:func:`oai_reference`)."""
    from PIL import Image

    rows, table = [], []
    for split in REAL:
        folder = shared / "realdata" / split
        files = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
        for path in files:
            pixels = np.asarray(Image.open(path).convert("L"))
            start = time.perf_counter()
            found = estimate_spacing(pixels, "auto")
            seconds = time.perf_counter() - start
            strict = found
            if found is not None and "length chose" in found.detail:
                strict = estimate_spacing(pixels, "auto", ruler=STRICT)
            reference = oai_reference(split, pixels)
            rows.append(
                {
                    "split": split,
                    "image": path.name,
                    "reference_mm": reference,
                    "found": found is not None,
                    "estimate_mm": None if found is None else found.spacing_mm,
                    "error": None if found is None else found.spacing_mm / reference - 1,
                    "detail": "" if found is None else found.detail,
                    "strict_mm": None if strict is None else strict.spacing_mm,
                    "seconds": seconds,
                }
            )
        sel = [r for r in rows if r["split"] == split]
        if sel:
            table.append(real_summary(split, sel))
    return rows, table


def real_summary(split: str, rows: list[dict]) -> dict:
    """n, found, within 3 % of the reference (and of 1.32), wrong (> 3 % off), the
    median, 5th/95th percentile of the error, the median time."""
    found = [r for r in rows if r["found"]]
    errs = np.array([r["error"] for r in found]) if found else np.zeros(1)
    return {
        "split": split,
        "n": len(rows),
        "found": len(found),
        "within_3pct": int(np.sum(np.abs(errs) <= 0.03)) if found else 0,
        "wrong": int(np.sum(np.abs(errs) > 0.03)) if found else 0,
        "within_3pct_of_1.32": sum(
            1 for r in found if abs(r["estimate_mm"] / OAI_SPACING - 1) <= 0.03
        ),
        "reference_1.505": sum(1 for r in rows if r["reference_mm"] == OAI_36M_SHORT),
        "median_mm": float(np.median([r["estimate_mm"] for r in found])) if found else None,
        "p5_p95_pct": [float(np.percentile(errs, 5) * 100), float(np.percentile(errs, 95) * 100)],
        "ms_median": float(np.median([r["seconds"] for r in rows]) * 1000),
    }


RESAMPLERS = ("nearest", "bilinear", "box")


def resampled(shared: Path, factors: list[float]) -> list[dict]:
    """The 12-month train films 3, 7, 11, … (a quarter not looked at while the aliasing
    fix was made) resized by each factor with each resampler: the ruler's spacing becomes
    1.32 / factor, its fine ticks fold elsewhere. found / within 3 % / wrong per case."""
    from PIL import Image

    files = sorted((shared / "realdata" / "oai-12m" / "train").glob("*.jpg"))[3::4]
    out = []
    for factor in factors:
        for name in RESAMPLERS:
            method = getattr(Image.Resampling, name.upper())
            found = within = 0
            wrong = []
            for path in files:
                image = Image.open(path).convert("L")
                size = (max(round(image.width * factor), 8), round(image.height * factor))
                estimate = estimate_spacing(np.asarray(image.resize(size, method)), "auto")
                if estimate is None:
                    continue
                found += 1
                error = estimate.spacing_mm / (OAI_SPACING / factor) - 1
                if abs(error) <= 0.03:
                    within += 1
                else:
                    wrong.append(f"{path.stem} {error * 100:+.0f} %")
            out.append(
                {
                    "factor": factor,
                    "resampler": name,
                    "n": len(files),
                    "found": found,
                    "within_3pct": within,
                    "wrong": len(wrong),
                    "wrong_films": wrong,
                }
            )
    return out


def crafted(n: int, seed: int) -> dict:
    """``n`` films of the tests' crafted OAI-like ruler, sampled through a 0.5 mm spot
    (``tests/core/test_ruler_aliasing.py``'s ``oai_like_film``) at random spacings of
    0.5–1.9 mm/px and phases: its sharp 1 mm ticks fold wherever the spacing puts them."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.core.test_ruler_aliasing import oai_like_film

    rng = np.random.default_rng(seed)
    out = {"n": n, "found": 0, "within_1pct": 0, "wrong": []}
    for i in range(n):
        spacing, phase = rng.uniform(0.5, 1.9), rng.uniform(0.0, 5.0)
        estimate = estimate_spacing(oai_like_film(spacing, phase, seed=i), "auto")
        if estimate is None:
            continue
        out["found"] += 1
        if abs(estimate.spacing_mm / spacing - 1) <= 0.01:
            out["within_1pct"] += 1
        else:
            out["wrong"].append(f"{spacing:.3f} mm/px read {estimate.spacing_mm:.3f}")
    return out


def length_policy_table(synthetic_rows: list[dict], real_rows: list[dict]) -> list[dict]:
    """Rulers read with the film's length deciding 2× readings (the default) and with
    ``length_decides=False``: found, within (1 % synthetic, 3 % real), wrong."""

    def count(rows, key, truth, tolerance):
        got = [(r[key], r[truth]) for r in rows if r[key] is not None]
        ok = sum(1 for v, t in got if abs(v / t - 1) <= tolerance)
        return len(got), ok, len(got) - ok

    groups = []
    for label, rows in synthetic_rows:
        on = [
            r for r in rows if r["object"] == "ruler" and r["condition"] in ("visible", "occluded")
        ]
        groups.append((label, on, "truth_mm", 0.01))
    for split in REAL:
        sel = [r for r in real_rows if r["split"] == split]
        if sel:
            groups.append((split, sel, "reference_mm", 0.03))
    out = []
    for label, rows, truth, tolerance in groups:
        n, ok, wrong = count(rows, "estimate_mm", truth, tolerance)
        n2, ok2, wrong2 = count(rows, "strict_mm", truth, tolerance)
        out.append(
            {
                "films": label,
                "n": len(rows),
                "length decides: found / within / wrong": [n, ok, wrong],
                "refused instead: found / within / wrong": [n2, ok2, wrong2],
            }
        )
    return out


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
    p.add_argument(
        "--resample",
        default="",
        help="comma-separated factors: also read OAI train films resized by them",
    )
    p.add_argument(
        "--crafted", type=int, default=0, help="also read N crafted aliased rulers (0: skip)"
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
        print("\n## Real OAI films vs each film's reference (oai_reference), ± 3 %\n")
        print(
            markdown(
                real_table,
                ["split", "n", "found", "within_3pct", "wrong", "within_3pct_of_1.32",
                 "reference_1.505", "median_mm", "p5_p95_pct", "ms_median"],
            )
        )  # fmt: skip
        misses = [r for r in real_rows if not r["found"] or abs(r["error"]) > 0.03]
        for r in misses:
            value = "not found" if not r["found"] else f"{r['estimate_mm']:.4f} mm/px"
            print(f"- {r['split']}/{r['image']} (reference {r['reference_mm']}): {value}")
        results.update(real=real_table, real_misses=misses)
    else:
        real_rows = []
        print(f"\n(real OAI films: {args.shared} is absent — skipped)")
    policy = length_policy_table(
        [("synthetic adults", rows), ("synthetic children", children)], real_rows
    )
    print("\n## Rulers read where the film's length decides 2× readings, or refused instead\n")
    print(markdown(policy, list(policy[0])))
    results["length_policy"] = policy

    if args.resample and args.shared.is_dir():
        factors = [float(f) for f in args.resample.split(",")]
        table = resampled(args.shared, factors)
        print("\n## OAI train films (3, 7, 11, …) resized, vs 1.32 / factor, ± 3 %\n")
        columns = ["factor", "resampler", "n", "found", "within_3pct", "wrong", "wrong_films"]
        print(markdown(table, columns))
        results["resampled"] = table

    if args.crafted:
        sweep = crafted(args.crafted, args.seed)
        print(f"\n## Crafted aliased rulers (tests' oai_like_film), 0.5–1.9 mm/px\n\n{sweep}")
        results["crafted"] = sweep

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
        table = [
            fields,
            *(["" if r.get(k) is None else r[k] for k in fields] for r in rows + children),
        ]
        write_text_atomic(args.out / "spacing_object.csv", csv_text(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
