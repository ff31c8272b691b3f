"""Accuracy in millimetres on a labelled folder: MRE ± SD, median, PCK, per landmark,
on occluded landmarks (where the data flags them), and how absent landmarks were handled —
scored by :func:`apn_core.metrics.score`, the same function as training validation
(its docstring defines every number).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apn_core.annotations import read_landmarks_csv
from apn_core.dataset import LabelledFolder
from apn_core.metrics import COUNTS, score, scored_errors_mm


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
