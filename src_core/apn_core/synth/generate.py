"""One synthetic case (image + ground truth), and a labelled folder of them.

A case is drawn from its style family (:mod:`.families`) in named, independent random
streams (:mod:`.draws`): anatomy → hardware → field of view → accessories → exposure →
processing → overlays → storage. Rendering: attenuation maps (:mod:`.phantom`) → detector
(:mod:`.acquisition`) → display (:mod:`.processing`) → burned-in overlays and padding
(:mod:`.overlays`) → stored pixels (:mod:`.storage`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels, write_landmarks_csv
from apn_core.errors import FileProblem
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.synth.accessories import Accessories, calibration_truth, render_accessories
from apn_core.synth.acquisition import Acquisition, acquire, collimated_mask
from apn_core.synth.anatomy import Anatomy, sample_anatomy
from apn_core.synth.config import SynthConfig
from apn_core.synth.draws import Draws
from apn_core.synth.hardware import Hardware, sample_hardware
from apn_core.synth.overlays import Overlays, apply_overlays
from apn_core.synth.phantom import render_phantom
from apn_core.synth.processing import Processing, process
from apn_core.synth.storage import CARRIES_SPACING, SUFFIX, Storage, quantise, write_image
from apn_core.synth.view import View, sample_view
from apn_core.utils.atomic import write_text_atomic

log = logging.getLogger(__name__)

OCCLUSION_RADIUS_MM = 4.0
OCCLUSION_MU_T = 0.3  # mean metal/lead μ·t around a landmark above which it counts as occluded


@dataclass
class SynthCase:
    """A rendered radiograph and its truth.

    stored: pixel values as they go into the file (uint8 for 8-bit, else uint16;
        MONOCHROME1: bone dark; JPEG: the decoded file).
    bone_bright: the same image with bone bright (what :func:`read_radiograph` returns).
    xy: ``(6, 2)`` (x=col, y=row) px of every landmark, also those outside the image or
        removed by an amputation.
    present: in the image (inside it and not amputated); occluded: under metal or lead.
    family: the style family; encoded: the file's bytes where they are not the pixels (JPEG).
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
    family: str = ""
    encoded: bytes | None = None

    @property
    def bone_bright(self) -> np.ndarray:
        if self.photometric == "MONOCHROME1":
            return (2**self.bits - 1) - self.stored
        return self.stored

    @property
    def carries_spacing(self) -> bool:
        """Whether the file format records the pixel spacing (PNG and JPEG do not)."""
        return self.file_format in CARRIES_SPACING

    def labels(self, image: str) -> ImageLabels:
        """Every landmark annotated; absent ones (outside, amputated) without a position.
        The spacing goes with the labels when the file cannot carry it."""
        xy = np.where(self.present[:, None], self.xy, np.nan)
        spacing = None if self.carries_spacing else (self.spacing, self.spacing)
        return ImageLabels(image, xy, np.ones(len(xy), bool), self.occluded & self.present, spacing)


def generate_case(seed: int, index: int = 0, config: SynthConfig | None = None) -> SynthCase:
    """Render case ``index`` of the series ``seed`` (same arguments → same image)."""
    cfg = config or SynthConfig()
    family = cfg.family_for(index)
    draws = Draws(seed, index)
    anatomy = sample_anatomy(draws, family.anatomy)
    hardware = sample_hardware(draws, family.hardware, anatomy)
    grid, view = sample_view(draws, family.view, anatomy, cfg.spacing_mm)
    accessories = Accessories.sample(draws, family.accessories, anatomy)

    truth_mm = anatomy.landmarks_mm()
    xy = np.array([grid.to_pixel(x, y) for x, y in truth_mm])
    rows, cols = grid.shape
    inside = (
        (xy[:, 0] >= -0.5)
        & (xy[:, 0] <= cols - 0.5)
        & (xy[:, 1] >= -0.5)
        & (xy[:, 1] <= rows - 0.5)
    )
    present = inside & anatomy.landmarks_exist()
    acq = Acquisition.sample(
        draws,
        family.acquisition,
        rows * grid.spacing,
        _free_mm(xy[present], grid.shape, grid.spacing),
    )
    proc = Processing.sample(draws, family.processing)
    overlays = Overlays.sample(draws, family.overlays)
    storage = Storage.sample(draws, family.storage, cfg.formats)

    maps = render_phantom(anatomy, hardware, grid)
    render_accessories(maps.extra, grid, anatomy, accessories)
    intensity = acquire(maps.total(), grid, acq, draws("noise"), cfg.noise_scale)
    collimated = collimated_mask(grid.shape, grid.spacing, acq)
    exposed = None if collimated is None else ~collimated
    display = process(intensity, grid, proc, acq, exposed)
    display, (dx, dy) = apply_overlays(display, grid.spacing, overlays, collimated)
    stored, encoded = quantise(display, storage)
    occluded = _occluded(maps.occluder, xy, grid.spacing) & present
    meta = _case_meta(
        seed, index, family.name, anatomy, hardware, view, accessories, acq, proc, overlays, storage
    )
    meta["calibration"] = calibration_truth(grid, anatomy, accessories, collimated)  # unrounded
    return SynthCase(
        stored=stored,
        photometric=storage.photometric,
        bits=storage.bits,
        spacing=cfg.spacing_mm,
        xy=xy + np.array([dx, dy], float),
        present=present,
        occluded=occluded,
        file_format=storage.format,
        meta=meta,
        family=family.name,
        encoded=encoded,
    )


def _free_mm(xy: np.ndarray, shape: tuple[int, int], spacing: float) -> np.ndarray:
    """Room (mm) between the present landmarks and the (left, right, top, bottom) edges."""
    rows, cols = shape
    if len(xy) == 0:
        return np.array([cols, cols, rows, rows], float) * spacing / 3
    return (
        np.array(
            [xy[:, 0].min(), cols - 1 - xy[:, 0].max(), xy[:, 1].min(), rows - 1 - xy[:, 1].max()]
        )
        * spacing
    )


def _occluded(occluder: np.ndarray, xy: np.ndarray, spacing: float) -> np.ndarray:
    r = max(1, round(OCCLUSION_RADIUS_MM / spacing))
    out = np.zeros(len(xy), bool)
    for i, (x, y) in enumerate(xy):
        c, rr = round(x), round(y)
        patch = occluder[max(rr - r, 0) : rr + r + 1, max(c - r, 0) : c + r + 1]
        out[i] = patch.size > 0 and float(patch.mean()) > OCCLUSION_MU_T
    return out


def _compact(obj):
    """JSON-ready metadata: floats rounded, tuples as lists, numpy scalars as Python."""
    if isinstance(obj, dict):
        return {k: _compact(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_compact(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _compact(obj.tolist())
    if isinstance(obj, float | np.floating):
        return round(float(obj), 3)
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    return obj


def _case_meta(
    seed,
    index,
    family,
    anatomy: Anatomy,
    hw: Hardware,
    view: View,
    acc: Accessories,
    acq: Acquisition,
    proc: Processing,
    ov: Overlays,
    storage: Storage,
) -> dict:
    legs = {}
    for side, leg in anatomy.legs.items():
        d = asdict(leg)
        for key in ("hip", "knee", "ankle", "jitter", "side"):
            d.pop(key)
        legs[side] = d
    return _compact(
        {
            "seed": seed,
            "index": index,
            "family": family,
            "legs": legs,
            "child": anatomy.child,
            "body_size": anatomy.scale,
            "soft_tissue": anatomy.soft_tissue,
            "pelvic_tilt_deg": anatomy.pelvic_tilt_deg,
            "lean_deg": anatomy.lean_deg,
            **anatomy.extras,
            "hardware": hw.summary(),
            "hip_prosthesis": [i.side for i in hw.items if i.kind == "hip"],
            "knee_prosthesis": [i.side for i in hw.items if i.kind == "knee"],
            "gonad_shield": hw.has("shield"),
            "amputation": {s: leg.amputation for s, leg in anatomy.legs.items() if leg.amputation},
            "restricted_view": view.restriction,
            "view": asdict(view),
            "accessories": asdict(acc),
            "acquisition": asdict(acq),
            "stitch_seams": len(acq.seams_mm),
            "processing": asdict(proc),
            "overlays": asdict(ov),
            "storage": asdict(storage),
            "bits": storage.bits,
        }
    )


def _write_case(out: Path, seed: int, index: int, cfg: SynthConfig) -> tuple[ImageLabels, dict]:
    """Render and write one image file; return its labels and metadata (runs in workers)."""
    case = generate_case(seed, index, cfg)
    stem = f"synth_{seed}_{index:04d}"
    name = stem + SUFFIX[case.file_format]
    storage = Storage(case.file_format, case.bits, case.meta["storage"]["jpeg_quality"])
    write_image(out / name, case.stored, storage, case.spacing, stem, case.encoded)
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
    config = json.loads(json.dumps(cfg.to_dict(), default=str))
    meta_lines = [json.dumps({**r[1], "config": config}) for r in results]
    write_text_atomic(out / "phantoms.jsonl", "\n".join(meta_lines) + "\n")
    log.debug("wrote %d synthetic radiographs to %s", n, out)
    return out
