"""Write perturbed copies of a labelled folder, one labelled folder per perturbation kind
(the kinds are :mod:`apn_core.perturbations`; ``apn calibrate --perturb`` applies them in
memory, without writing images).

    python benchmarks/perturbations.py DATA OUT [--only NAME ...] [-n N]

writes one labelled folder per perturbation (16-bit TIFF with resolution tags, 8-bit for
``8bit``/``jpeg_q30``, landmarks.csv with ``spacing_mm``) under OUT.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels
from apn_core.annotations.landmarks_csv import write_landmarks_csv
from apn_core.dataset import load_labelled_folder
from apn_core.io import write_tiff
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet
from apn_core.perturbations import ALL, PERTURBATIONS, Sample, load_samples, perturb


def write_sample(root: Path, image: str, s: Sample) -> tuple[str, ImageLabels]:
    """Write ``s`` as a TIFF (16-bit, or 8-bit where ``bits == 8``) under ``root``."""
    stem = Path(image).with_suffix("").as_posix()
    rel = f"{stem}.tif"
    lo, hi = float(np.min(s.pixels)), float(np.max(s.pixels))
    u = (s.pixels.astype(np.float64) - lo) / max(hi - lo, 1e-6)
    stored = (
        np.round(u * 255).astype(np.uint8) if s.bits == 8 else np.round(u * 65535).astype(np.uint16)
    )
    write_tiff(root / rel, stored, s.spacing)
    return rel, ImageLabels(rel, s.xy, s.annotated, spacing=s.spacing)


def write_perturbed_folder(
    src: Path,
    out: Path,
    name: str,
    n: int | None = None,
    landmarks: LandmarkSet = DEFAULT_LANDMARKS,
) -> Path:
    """The labelled folder ``src`` (first ``n`` images) under perturbation ``name`` → ``out``."""
    folder = load_labelled_folder(src, landmarks)
    folder.raise_for_errors()
    labels = []
    for i, (image, sample) in enumerate(load_samples(folder, n)):
        _, lab = write_sample(out, image, perturb(name, sample, seed=i))
        labels.append(lab)
    write_landmarks_csv(out / "landmarks.csv", labels, landmarks)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path, help="labelled folder")
    parser.add_argument("out", type=Path, help="one subfolder per perturbation is written here")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(ALL),
        help="these perturbations only (also the severe ones)",
    )
    parser.add_argument("-n", type=int, help="first N images only")
    args = parser.parse_args()
    for name in args.only or PERTURBATIONS:
        path = write_perturbed_folder(args.data, args.out / name, name, args.n)
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
