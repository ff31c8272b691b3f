"""One synthetic case (image + ground truth), and a labelled folder of them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels, write_landmarks_csv
from apn_core.errors import FileProblem
from apn_core.io import write_dicom, write_tiff
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.synth.acquisition import Exposure, expose
from apn_core.synth.anatomy import SIDES, Anatomy, sample_anatomy
from apn_core.synth.config import SynthConfig
from apn_core.synth.phantom import Implants, render_phantom
from apn_core.synth.projection import Grid
from apn_core.synth.ruler import render_ruler
from apn_core.utils.atomic import write_text_atomic

log = logging.getLogger(__name__)

OCCLUSION_RADIUS_MM = 4.0
OCCLUSION_MU_T = 0.3  # mean metal/lead μ·t around a landmark above which it counts as occluded
RESTRICTIONS = ("no-hips", "no-ankles", "one-leg")


@dataclass
class SynthCase:
    """A rendered radiograph and its truth.

    stored: uint16 pixel values as they go into the file (MONOCHROME1: bone dark).
    bone_bright: the same image with bone bright (what :func:`read_radiograph` returns).
    xy: ``(6, 2)`` (x=col, y=row) px of every landmark, also those outside the image.
    present: inside the image; occluded: under metal or lead.
    """

    stored: np.ndarray
    photometric: str
    bits: int
    spacing: float
    xy: np.ndarray
    present: np.ndarray
    occluded: np.ndarray
    file_format: str
    meta: dict = field(default_factory=dict)

    @property
    def bone_bright(self) -> np.ndarray:
        if self.photometric == "MONOCHROME1":
            return (2**self.bits - 1) - self.stored
        return self.stored

    def labels(self, image: str) -> ImageLabels:
        xy = np.where(self.present[:, None], self.xy, np.nan)
        return ImageLabels(image, xy, np.ones(len(xy), bool), self.occluded & self.present)


def generate_case(seed: int, index: int = 0, config: SynthConfig | None = None) -> SynthCase:
    """Render case ``index`` of the series ``seed`` (same arguments → same image)."""
    cfg = config or SynthConfig()
    rng = np.random.default_rng([seed, index])
    anatomy = sample_anatomy(rng)
    implants = _sample_implants(rng, cfg)
    restriction = str(rng.choice(RESTRICTIONS)) if rng.random() < cfg.restricted_fraction else None
    truth_mm = anatomy.landmarks_mm()
    grid = _field_of_view(anatomy, truth_mm, restriction, cfg.spacing_mm, rng)

    maps = render_phantom(anatomy, implants, grid, rng)
    mu_t = maps.total()
    ruler_x = grid.x0 + (15.0 if rng.random() < 0.5 else grid.shape[1] * grid.spacing - 35.0)
    render_ruler(mu_t, grid, ruler_x, start_mm=grid.y0 + float(rng.uniform(0, 10)))
    exposure = Exposure.sample(rng, grid.shape[0] * grid.spacing)
    stored = expose(mu_t, grid, exposure, rng, cfg.noise_scale)

    xy = np.array([grid.to_pixel(x, y) for x, y in truth_mm])
    rows, cols = grid.shape
    present = (
        (xy[:, 0] >= -0.5)
        & (xy[:, 0] <= cols - 0.5)
        & (xy[:, 1] >= -0.5)
        & (xy[:, 1] <= rows - 0.5)
    )
    occluded = _occluded(maps.occluder, xy, grid.spacing) & present
    fmt = cfg.formats[index % len(cfg.formats)]  # a folder always mixes the formats
    photometric = "MONOCHROME1" if fmt == "dicom-mono1" else "MONOCHROME2"
    if photometric == "MONOCHROME1":
        stored = (2**exposure.bits - 1) - stored
    return SynthCase(
        stored=stored,
        photometric=photometric,
        bits=exposure.bits,
        spacing=cfg.spacing_mm,
        xy=xy,
        present=present,
        occluded=occluded,
        file_format=fmt,
        meta=_case_meta(anatomy, implants, restriction, exposure, seed, index),
    )


def _sample_implants(rng: np.random.Generator, cfg: SynthConfig) -> Implants:
    hip = tuple(s for s in SIDES if rng.random() < cfg.hip_prosthesis_fraction)
    knee = tuple(s for s in SIDES if rng.random() < cfg.knee_prosthesis_fraction)
    shield = None
    if rng.random() < cfg.shield_fraction:
        shield = (
            float(rng.normal(0, 30)),
            float(rng.uniform(-10, 60)),
            float(rng.uniform(0.8, 1.4)),
        )
    return Implants(hip=hip, knee=knee, shield=shield)


def _field_of_view(
    anatomy: Anatomy,
    truth_mm: np.ndarray,
    restriction: str | None,
    spacing: float,
    rng: np.random.Generator,
) -> Grid:
    """Detector placement: hips to feet and ~40 cm wide, or a cut-down restricted view."""
    hips, ankles = truth_mm[0:2], truth_mm[4:6]
    width = float(rng.uniform(340, 400)) * anatomy.scale
    cx = float(np.mean(truth_mm[:, 0]) + rng.normal(0, 8))
    top = float(hips[:, 1].min() - rng.uniform(90, 160))
    bottom = float(ankles[:, 1].max() + rng.uniform(65, 100))
    if restriction == "no-hips":
        top = float(hips[:, 1].max() + rng.uniform(15, 200))
    elif restriction == "no-ankles":
        bottom = float(ankles[:, 1].min() - rng.uniform(15, 150))
    elif restriction == "one-leg":
        leg = int(rng.integers(0, 2))
        cx = float(np.mean(truth_mm[leg::2, 0]))
        width = float(rng.uniform(170, 230))
    rows = round((bottom - top) / spacing)
    cols = round(width / spacing)
    return Grid(x0=cx - width / 2, y0=top, spacing=spacing, shape=(rows, cols))


def _occluded(occluder: np.ndarray, xy: np.ndarray, spacing: float) -> np.ndarray:
    r = max(1, round(OCCLUSION_RADIUS_MM / spacing))
    out = np.zeros(len(xy), bool)
    for i, (x, y) in enumerate(xy):
        c, rr = round(x), round(y)
        patch = occluder[max(rr - r, 0) : rr + r + 1, max(c - r, 0) : c + r + 1]
        out[i] = patch.size > 0 and float(patch.mean()) > OCCLUSION_MU_T
    return out


def _case_meta(
    anatomy: Anatomy, implants: Implants, restriction, exposure: Exposure, seed, index
) -> dict:
    legs = {
        side: {
            "hka_deviation_deg": round(leg.hka_deviation_deg, 3),
            "femur_length_mm": round(leg.femur_length, 2),
            "tibia_length_mm": round(leg.tibia_length, 2),
        }
        for side, leg in anatomy.legs.items()
    }
    return {
        "seed": seed,
        "index": index,
        "legs": legs,
        "pelvic_tilt_deg": round(anatomy.pelvic_tilt_deg, 3),
        "hip_prosthesis": list(implants.hip),
        "knee_prosthesis": list(implants.knee),
        "gonad_shield": implants.shield is not None,
        "restricted_view": restriction,
        "stitch_seams": len(exposure.seams_mm),
        "bits": exposure.bits,
    }


def _write_case(out: Path, seed: int, index: int, cfg: SynthConfig) -> tuple[ImageLabels, dict]:
    """Render and write one image file; return its labels and metadata (runs in workers)."""
    case = generate_case(seed, index, cfg)
    stem = f"synth_{seed}_{index:04d}"
    spacing = (case.spacing, case.spacing)
    if case.file_format == "tiff":
        name = f"{stem}.tif"
        write_tiff(out / name, case.bone_bright, spacing)
    else:
        name = f"{stem}.dcm"
        write_dicom(
            out / name,
            case.stored,
            spacing,
            case.photometric,
            case.bits,
            patient_id=stem,
            description="napari-apn synthetic long-leg radiograph",
        )
    meta = {"image": name, "photometric": case.photometric, **case.meta}
    return case.labels(name), meta


def write_synthetic_folder(
    out: str | Path,
    n: int,
    seed: int = 0,
    config: SynthConfig | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``n`` cases as a labelled folder: images, ``landmarks.csv``, ``phantoms.jsonl``.

    Refuses a folder that already holds a ``landmarks.csv`` unless ``overwrite`` (then the
    files it writes are replaced; nothing else in the folder is touched).
    """
    cfg = config or SynthConfig()
    out = Path(out)
    if (out / "landmarks.csv").exists() and not overwrite:
        raise FileProblem(out, "already holds a landmarks.csv; choose a new folder or pass --force")
    out.mkdir(parents=True, exist_ok=True)
    results: list[tuple[ImageLabels, dict]] = []
    if workers > 1 and n > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_write_case, out, seed, i, cfg) for i in range(n)]
            for done, fut in enumerate(futures, start=1):
                results.append(fut.result())
                if progress:
                    progress(done, n)
    else:
        for i in range(n):
            results.append(_write_case(out, seed, i, cfg))
            if progress:
                progress(i + 1, n)
    write_landmarks_csv(out / "landmarks.csv", [r[0] for r in results], DEFAULT_LANDMARKS)
    meta_lines = [json.dumps({**r[1], "config": cfg.to_dict()}) for r in results]
    write_text_atomic(out / "phantoms.jsonl", "\n".join(meta_lines) + "\n")
    log.debug("wrote %d synthetic radiographs to %s", n, out)
    return out
