"""Accuracy in millimetres on a labelled folder: MRE ± SD, median, PCK, per landmark,
on occluded landmarks (where the data flags them), and how absent landmarks were handled.

Landmarks *not annotated* are skipped. For landmarks *annotated absent* we count how many
the model wrongly reported present; for present ones reported absent, how many were
missed (their error is left out of MRE/PCK and counted instead).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apn_core.annotations import read_landmarks_csv
from apn_core.dataset import LabelledFolder
from apn_core.metrics import radial_errors_mm, summarise


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
