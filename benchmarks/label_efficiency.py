"""Label efficiency: from the bundled model to a model for a style family it never saw.

For each number of labelled images (5, 10, 20, 40 by default) of one held-out style family,
three ways to spend the same CPU budget are compared on that family's test set:

- ``fine-tune``: ``apn train SUB --init default --preset finetune``;
- ``fine-tune + unlabelled``: the same, with the family's other images as unlabelled data
  (``--unlabelled``: the generator's adversarial terms on images without labels);
- ``from scratch``: ``apn train SUB --preset default`` (random initialisation).

``--knee-shift-mm D`` moves both knee labels D mm towards the hip in the labelled pool and the
test set: a hospital whose convention for the knee centre differs from the bundled model's
(the case fine-tuning is for; on an unshifted family the bundled model may already be good).

The bundled model without any training on the family is the baseline (a dashed line in the
plot): fine-tuning has to be judged against it, not only against training from scratch.

Every run gets ``--max-minutes`` of training; each is evaluated by ``apn evaluate``. Prints a
Markdown table (MRE, PCK@10, present reported absent) and writes a plot::

    python benchmarks/label_efficiency.py --family FAMILY --minutes 5 --work runs/label_eff \
        --plot docs/images/label_efficiency.png

Folders are rendered once with ``apn synth --families FAMILY`` (labelled pool, unlabelled pool
without ``landmarks.csv``, test set); re-running reuses finished runs and only re-prints.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.csv_cells import csv_text
from apn_core.utils.csv_cells import read_rows as csv_rows

log = logging.getLogger("label_efficiency")
APN = [sys.executable, "-m", "apn_core"]
CONDITIONS = {
    "fine-tune": ["--init", "default", "--preset", "finetune"],
    "fine-tune + unlabelled": [
        "--init",
        "default",
        "--preset",
        "finetune",
        "--unlabelled",
        "{unlabelled}",
    ],
    "from scratch": ["--preset", "default"],
}


def apn(*args: str) -> None:
    cmd = [*APN, *args]
    log.info("$ apn %s", " ".join(args))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def render(folder: Path, n: int, seed: int, family: str, spacing: float) -> Path:
    if not (folder / "landmarks.csv").exists():
        apn(
            "synth",
            str(folder),
            "-n",
            str(n),
            "--seed",
            str(seed),
            "--spacing",
            str(spacing),
            "--families",
            family,
        )
    return folder


def read_rows(folder: Path) -> list[dict]:
    header, *rows = csv_rows((folder / "landmarks.csv").read_text(encoding="utf-8-sig"))
    return [dict(zip(header, row, strict=False)) for row in rows]


def write_rows(path: Path, rows: list[dict]) -> None:
    write_text_atomic(path, csv_text([list(rows[0]), *(list(r.values()) for r in rows)]))


def subset(pool: Path, out: Path, n: int) -> Path:
    """A labelled folder with the first ``n`` images of ``pool`` (images linked, CSV filtered)."""
    if (out / "landmarks.csv").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rows = read_rows(pool)
    images = list(dict.fromkeys(r["image"] for r in rows))[:n]
    for image in images:
        target = out / image
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to((pool / image).resolve())
    keep = [r for r in rows if r["image"] in set(images)]
    write_rows(out / "landmarks.csv", keep)
    return out


def shifted(folder: Path, out: Path, prefix: str, dy_mm: float, spacing: float) -> Path:
    """A copy of a labelled folder (images linked) whose ``prefix*`` landmarks sit ``dy_mm``
    higher in the image (smaller y): another annotation convention for the same anatomy."""
    if (out / "landmarks.csv").exists():
        return out
    rows = read_rows(folder)
    for row in rows:
        if row["landmark"].startswith(prefix) and row["y"]:
            row["y"] = f"{float(row['y']) - dy_mm / spacing:.3f}"
    out.mkdir(parents=True, exist_ok=True)
    for image in dict.fromkeys(r["image"] for r in rows):
        if not (out / image).exists():
            (out / image).symlink_to((folder / image).resolve())
    write_rows(out / "landmarks.csv", rows)
    return out


def unlabelled_pool(folder: Path) -> Path:
    """The rendered folder minus its labels: images only."""
    (folder / "landmarks.csv").unlink(missing_ok=True)
    (folder / "phantoms.jsonl").unlink(missing_ok=True)
    return folder


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--family", required=True, help="the style family held out from the bundled model"
    )
    p.add_argument("--sizes", default="5,10,20,40", help="numbers of labelled images")
    p.add_argument(
        "--minutes", type=float, default=5.0, help="training budget per run (CPU minutes)"
    )
    p.add_argument("--test-n", type=int, default=100, help="test images of the family")
    p.add_argument("--unlabelled-n", type=int, default=200, help="unlabelled images of the family")
    p.add_argument("--spacing", type=float, default=0.5)
    p.add_argument(
        "--knee-shift-mm", type=float, default=0.0, help="move the knee labels this far up"
    )
    p.add_argument("--conditions", default=",".join(CONDITIONS), help="which conditions to run")
    p.add_argument("--work", type=Path, default=Path("runs/label_efficiency"))
    p.add_argument(
        "--plot", type=Path, help="write a PNG plot of PCK@10 and MRE against labelled images"
    )
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sizes = [int(s) for s in args.sizes.split(",")]
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    work = args.work
    pool = render(work / "pool", max(sizes), 71000, args.family, args.spacing)
    test = render(work / "test", args.test_n, 72000, args.family, args.spacing)
    suffix = f"_knee{args.knee_shift_mm:g}mm" if args.knee_shift_mm else ""
    if args.knee_shift_mm:
        pool = shifted(pool, work / f"pool{suffix}", "knee_", args.knee_shift_mm, args.spacing)
        test = shifted(test, work / f"test{suffix}", "knee_", args.knee_shift_mm, args.spacing)
    unlabelled = work / "unlabelled"
    if not unlabelled.exists():
        tmp = render(work / "unlabelled.tmp", args.unlabelled_n, 73000, args.family, args.spacing)
        shutil.move(str(unlabelled_pool(tmp)), unlabelled)
    baseline_report = work / f"bundled_no_training{suffix}"
    if not (baseline_report / "evaluation.json").exists():
        apn("evaluate", str(test), "--model", "default", "--out", str(baseline_report))
    baseline = json.loads((baseline_report / "evaluation.json").read_text())
    results: dict[tuple[str, int], dict] = {}
    for size in sizes:
        data = subset(pool, work / f"labelled_{size}{suffix}", size)
        for name in conditions:
            run = work / "runs" / f"{name.replace(' ', '').replace('+', '_')}_{size}{suffix}"
            report = run / "test_eval"
            if not (report / "evaluation.json").exists():
                if run.exists():
                    shutil.rmtree(run)  # an unfinished run of an earlier invocation
                extra = [a.format(unlabelled=unlabelled) for a in CONDITIONS[name]]
                apn(
                    "train",
                    str(data),
                    "--out",
                    str(run),
                    "--max-minutes",
                    str(args.minutes),
                    "--workers",
                    "1",
                    "--progress",
                    "json",
                    *extra,
                )
                apn("evaluate", str(test), "--model", str(run), "--out", str(report))
            results[(name, size)] = json.loads((report / "evaluation.json").read_text())
    shift = f"; knee labels moved {args.knee_shift_mm:g} mm up" if args.knee_shift_mm else ""
    print(
        f"\nfamily {args.family!r}{shift}: {args.test_n} test images; "
        f"{args.minutes:g} min of training per run\n"
    )
    print("| labelled images | " + " | ".join(conditions) + " |")
    print("| ---: | " + " | ".join("---:" for _ in conditions) + " |")
    for size in sizes:
        print(
            f"| {size} | " + " | ".join(cell(results[(name, size)]) for name in conditions) + " |"
        )
    print(f"| 0 (bundled model, no training) | {cell(baseline)} |")
    print("\ncells: MRE / PCK@10 over reported landmarks (present landmarks reported absent)")
    if args.plot:
        plot(args.plot, results, sizes, conditions, args.family, baseline)


def metric(report: dict, key: str) -> float:
    """A metric of an ``evaluation.json``; NaN where the model reported no landmark."""
    value = report["all"].get(key)
    return float("nan") if value is None else float(value)


def cell(report: dict) -> str:
    mre, pck = metric(report, "mre"), metric(report, "pck@10")
    missed = report["counts"]["present_reported_absent"]
    if mre != mre:  # nothing reported
        return f"– / – ({missed} missed: nothing reported)"
    return f"{mre:.2f} mm / {100 * pck:.1f} % ({missed} missed)"


def plot(
    path: Path, results: dict, sizes: list[int], conditions: list[str], family: str, baseline: dict
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
    for name in conditions:
        reports = [results[(name, s)] for s in sizes]
        pck = [100 * metric(r, "pck@10") if r["all"].get("n") else 0.0 for r in reports]
        ax1.plot(sizes, pck, "o-", label=name)
        ax2.plot(sizes, [metric(r, "mre") for r in reports], "o-", label=name)
    ax1.axhline(100 * metric(baseline, "pck@10"), color="k", ls="--", lw=1, label="no training")
    ax2.axhline(metric(baseline, "mre"), color="k", ls="--", lw=1, label="no training")
    for ax, title in ((ax1, "PCK@10 (%)"), (ax2, "MRE (mm)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel(f"labelled images of family {family!r}")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    ax2.set_yscale("log")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
