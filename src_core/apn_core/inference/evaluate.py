"""Accuracy in millimetres on a labelled folder: MRE ± SD, median, PCK, per landmark,
on occluded landmarks (where the data flags them), and how absent landmarks were handled.

Landmarks *not annotated* are skipped. For landmarks *annotated absent* we count how many
the model wrongly reported present; for present ones reported absent, how many were
missed (their error is left out of MRE/PCK and counted instead).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from apn_core.annotations import read_landmarks_csv
from apn_core.dataset import LabelledFolder
from apn_core.metrics import radial_errors_mm, summarise
from apn_core.utils.atomic import atomic_path, write_text_atomic


def predictions_from_csv(path: Path, folder: LabelledFolder) -> dict[str, np.ndarray]:
    """``image → (K, 2)`` from an ``apn predict`` landmarks.csv (absent = NaN)."""
    labels = read_landmarks_csv(path, folder.landmarks)
    return {image: lab.xy for image, lab in labels.items()}


def evaluate(
    folder: LabelledFolder, predicted: dict[str, np.ndarray], thresholds=(10.0, 20.0)
) -> tuple[dict, list]:
    """Metrics and per-landmark error rows from predicted image-pixel positions."""
    names = folder.landmarks.names
    k = len(names)
    errors, occluded_mask, rows = [], [], []
    absent_total = absent_reported = present_total = missed = unpredicted = 0
    for item in folder.items:
        image = item.labels.image
        pred = predicted.get(image)
        if pred is None:
            unpredicted += 1
            continue
        lab = item.labels
        err = radial_errors_mm(pred[None], lab.xy[None], np.array([item.spacing]))[0]
        pred_present = np.isfinite(pred).all(axis=1)
        e = np.full(k, np.nan)
        for i in range(k):
            if lab.present[i]:
                present_total += 1
                if pred_present[i]:
                    e[i] = err[i]
                else:
                    missed += 1
            elif lab.absent[i]:
                absent_total += 1
                absent_reported += int(pred_present[i])
            rows.append({"image": image, "landmark": names[i], "error_mm": e[i], "occluded": bool(lab.occluded[i]),
                         "truth": "present" if lab.present[i] else "absent" if lab.absent[i] else "not annotated",
                         "predicted_present": bool(pred_present[i])})  # fmt: skip
        errors.append(e)
        occluded_mask.append(lab.occluded & lab.present)
    errors_arr = np.array(errors).reshape(-1, k)
    occ = np.array(occluded_mask).reshape(-1, k)
    metrics = summarise(errors_arr, names, thresholds)
    if occ.any():
        metrics["occluded"] = summarise(np.where(occ, errors_arr, np.nan), names, thresholds)["all"]
    metrics["counts"] = {
        "images": len(errors), "images_without_prediction": unpredicted, "present": present_total,
        "present_reported_absent": missed, "absent": absent_total, "absent_reported_present": absent_reported,
    }  # fmt: skip
    return metrics, rows


def write_report(out: Path, metrics: dict, rows: list, thresholds=(10.0, 20.0)) -> None:
    """``evaluation.json``, ``errors.csv`` and ``error_cdf.png`` in ``out`` (atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "evaluation.json", json.dumps(metrics, indent=2))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["image"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(
            {**r, "error_mm": "" if not np.isfinite(r["error_mm"]) else f"{r['error_mm']:.3f}"}
        )
    write_text_atomic(out / "errors.csv", buf.getvalue())
    _cdf_plot(out / "error_cdf.png", rows, thresholds)


def _cdf_plot(path: Path, rows: list, thresholds) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    groups = {
        "all": [r["error_mm"] for r in rows],
        "occluded": [r["error_mm"] for r in rows if r["occluded"]],
    }
    for landmark in dict.fromkeys(r["landmark"] for r in rows):
        groups[landmark] = [r["error_mm"] for r in rows if r["landmark"] == landmark]
    for name, values in groups.items():
        e = np.sort(np.array([v for v in values if np.isfinite(v)]))
        if e.size:
            style = {"lw": 2.5, "color": "k"} if name == "all" else {"lw": 1}
            ax.plot(
                e, np.arange(1, e.size + 1) / e.size * 100, label=f"{name} (n={e.size})", **style
            )
    ax.set_xlim(0, max(thresholds) * 1.5)
    ax.set_ylim(0, 101)
    ax.set_xlabel("radial error (mm)")
    ax.set_ylabel("% of landmarks within")
    if ax.get_lines():
        ax.legend(fontsize=7, loc="lower right")
    for t in thresholds:
        ax.axvline(t, color="grey", ls="--", lw=0.8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
