"""What ``apn predict`` writes, atomically, and how a re-run skips finished images.

OUT/landmarks.csv       image,landmark,x,y,x_mm,y_mm,confidence,present
OUT/measurements.csv    image,side,hka_deg,mad_mm,length_mm,femur_mm,tibia_mm,lld_mm
OUT/<stem>.mrk.json     Slicer markups per image (schema v1.0.3)
OUT/overlays/<stem>.png optional pictures
OUT/predictions/<stem>.json   one record per image (the re-run state)
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels, write_markups
from apn_core.inference.predictor import Prediction
from apn_core.landmarks import LandmarkSet
from apn_core.utils.atomic import write_text_atomic

LANDMARK_COLUMNS = ("image", "landmark", "x", "y", "x_mm", "y_mm", "confidence", "present")
MEASUREMENT_COLUMNS = (
    "image",
    "side",
    "hka_deg",
    "mad_mm",
    "length_mm",
    "femur_mm",
    "tibia_mm",
    "lld_mm",
)


def output_stem(image: str) -> str:
    """A flat, unique file stem for an image path relative to the input root."""
    stem = image.rsplit(".", 1)[0] if "." in Path(image).name else image
    return stem.replace("/", "__").replace("\\", "__")


def record_of(image: str, prediction: Prediction) -> dict:
    return {"image": image, "rows": prediction.as_rows(), "alignment": prediction.alignment,
            "spacing": prediction.spacing, "spacing_source": prediction.spacing_source}  # fmt: skip


def save_image_outputs(
    out: Path, image: str, prediction: Prediction, landmarks: LandmarkSet
) -> None:
    stem = output_stem(image)
    labels = ImageLabels(image, prediction.xy, np.ones(len(prediction.xy), bool))
    write_markups(
        out / f"{stem}.mrk.json",
        labels,
        landmarks,
        prediction.spacing,
        prediction.confidence,
        name=stem,
    )
    write_text_atomic(
        out / "predictions" / f"{stem}.json", json.dumps(record_of(image, prediction), indent=1)
    )


def done_images(out: Path) -> set[str]:
    folder = out / "predictions"
    done = set()
    for f in folder.glob("*.json") if folder.exists() else []:
        try:
            done.add(json.loads(f.read_text())["image"])
        except (ValueError, KeyError):
            continue  # a damaged record: the image is predicted again
    return done


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, bool):
        return str(int(v))
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def write_tables(out: Path) -> int:
    """(Re)write the CSV tables from all per-image records; returns the number of images."""
    records = []
    for f in sorted((out / "predictions").glob("*.json")):
        try:
            records.append(json.loads(f.read_text()))
        except ValueError:
            continue
    lm, ms = io.StringIO(), io.StringIO()
    w1, w2 = csv.writer(lm, lineterminator="\n"), csv.writer(ms, lineterminator="\n")
    w1.writerow(LANDMARK_COLUMNS)
    w2.writerow(MEASUREMENT_COLUMNS)
    for rec in sorted(records, key=lambda r: r["image"]):
        for row in rec["rows"]:
            w1.writerow([rec["image"], *(_fmt(row[c]) for c in LANDMARK_COLUMNS[1:])])
        a = rec.get("alignment") or {}
        for side in ("right", "left"):
            if side in a:
                m = a[side]
                w2.writerow(
                    [
                        rec["image"],
                        side,
                        *(_fmt(m[c]) for c in MEASUREMENT_COLUMNS[2:7]),
                        _fmt(a.get("lld_mm")),
                    ]
                )
    write_text_atomic(out / "landmarks.csv", lm.getvalue())
    write_text_atomic(out / "measurements.csv", ms.getvalue())
    return len(records)
