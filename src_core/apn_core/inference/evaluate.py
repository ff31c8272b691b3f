"""Accuracy in millimetres on a labelled folder: MRE ± SD, median, PCK, per landmark,
on occluded landmarks (where the data flags them), and how absent landmarks were handled —
scored by :func:`apn_core.metrics.score`, the same function as training validation
(its docstring defines every number).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from apn_core.annotations import read_landmarks_csv
from apn_core.dataset import LabelledFolder
from apn_core.metrics import COUNTS, score, scored_errors_mm
from apn_core.utils.atomic import atomic_path, write_text_atomic


def predictions_from_csv(path: Path, folder: LabelledFolder) -> dict[str, np.ndarray]:
    """``image → (K, 2)`` from an ``apn predict`` landmarks.csv (absent = NaN)."""
    labels = read_landmarks_csv(path, folder.landmarks)
    return {image: lab.xy for image, lab in labels.items()}


def evaluate(
    folder: LabelledFolder, predicted: dict[str, np.ndarray], thresholds=(10.0, 20.0)
) -> tuple[dict, list]:
    """Metrics (:func:`apn_core.metrics.score`) and per-landmark error rows from predicted
    image-pixel positions (``image → (K, 2)``, NaN = reported absent).

    Images without a prediction are counted, not scored. ``metrics["counts"]`` repeats the
    ``all`` counts with the image counts.
    """
    names = folder.landmarks.names
    k = len(names)
    scored = [item for item in folder.items if predicted.get(item.labels.image) is not None]
    pred = np.array([predicted[item.labels.image] for item in scored], float).reshape(-1, k, 2)
    labels = [item.labels for item in scored]
    truth = np.array([lab.xy for lab in labels], float).reshape(-1, k, 2)
    present = np.array([lab.present for lab in labels], bool).reshape(-1, k)
    absent = np.array([lab.absent for lab in labels], bool).reshape(-1, k)
    occluded = np.array([lab.occluded for lab in labels], bool).reshape(-1, k)
    spacing = np.array([item.spacing for item in scored], float).reshape(-1, 2)
    metrics = score(pred, truth, present, absent, spacing, names, thresholds, occluded)
    metrics["counts"] = {
        "images": len(scored),
        "images_without_prediction": len(folder.items) - len(scored),
        **{c: metrics["all"][c] for c in COUNTS},
    }
    errors = scored_errors_mm(pred, truth, present, spacing)
    reported = np.isfinite(pred).all(axis=-1)
    rows = []
    for n, lab in enumerate(labels):
        for i in range(k):
            truth_text = (
                "present" if lab.present[i] else "absent" if lab.absent[i] else "not annotated"
            )
            rows.append(
                {
                    "image": lab.image,
                    "landmark": names[i],
                    "error_mm": float(errors[n, i]),
                    "occluded": bool(lab.occluded[i]),
                    "truth": truth_text,
                    "predicted_present": bool(reported[n, i]),
                }
            )
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
