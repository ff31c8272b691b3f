"""An SR and a presentation state for landmarks as a person left them (napari's
File > Save: ``*.sr.dcm``), not as ``apn predict`` stored them.

The measurements are computed from the given positions (:func:`apn_core.measurements.
alignment`) and blanked, with the reason, where a landmark is absent or still carries a
review reason — the rule of ``measurements.csv``. Which model placed the points is not
known here (a point may have been moved by hand): the algorithm is named "napari-apn
<model>" with ``model`` as given (default "napari layer"), weights "not recorded", and a
digest of the positions, so an edited layer never reuses the UIDs of another result.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from apn_core.dicom_out.result import Algorithm, LandmarkResult, digest
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet


def result_from_landmarks(
    xy: np.ndarray,
    spacing: tuple[float, float] | None,
    confidence: np.ndarray | None = None,
    reasons: list[str] | None = None,
    landmarks: LandmarkSet = DEFAULT_LANDMARKS,
    model: str = "napari layer",
) -> LandmarkResult:
    """``xy``: ``(K, 2)`` apn (x, y) pixels, NaN where absent; ``spacing`` (row, col) mm/px
    (None: no measurements); ``confidence`` ``(K,)`` (NaN where unknown); ``reasons``: K
    review reasons ("" = not flagged)."""
    from apn_core.inference.review import ImageReview, blank_measurements
    from apn_core.measurements import alignment

    xy = np.asarray(xy, dtype=np.float64).reshape(len(landmarks), 2)
    k = len(landmarks)
    present = np.isfinite(xy).all(axis=1)
    reasons = [str(r or "") if present[i] else "" for i, r in enumerate(reasons or [""] * k)]
    flags = np.array([bool(r) for r in reasons], bool)
    nan = np.full(k, np.nan)
    review = ImageReview(landmarks.names, present, flags, reasons, nan, nan)
    measured, notes = (
        ({}, {})
        if spacing is None
        else blank_measurements(alignment(xy, spacing, landmarks), review)
    )
    return LandmarkResult(
        names=tuple(landmarks.names),
        xy=xy,
        present=present,
        confidence=nan if confidence is None else np.asarray(confidence, np.float64).reshape(k),
        needs_review=flags,
        reasons=tuple(reasons),
        alignment=measured,
        notes=notes,
        algorithm=Algorithm(
            model=model,
            weights_sha256="not recorded",
            calibration_sha256=None,
            spacing=spacing,
            spacing_source="napari layer scale",
            edited=digest(xy, landmarks.names),
        ),
        image_needs_review=bool(flags.any()),
    )


def pr_beside(sr_file: Path) -> Path:
    """``leg.sr.dcm`` → ``leg.pr.dcm`` (``leg.dcm`` → ``leg.pr.dcm``)."""
    name = sr_file.name
    stem = name[: -len(".sr.dcm")] if name.lower().endswith(".sr.dcm") else sr_file.stem
    return sr_file.with_name(f"{stem}.pr.dcm")


def write_edited(sr_file: str | Path, source: str | Path, result: LandmarkResult) -> list[Path]:
    """Write the SR of ``result`` on the DICOM ``source`` to ``sr_file`` and its
    presentation state beside it (:func:`pr_beside`); both atomically."""
    from apn_core.dicom_out import require
    from apn_core.dicom_out.files import save_dataset
    from apn_core.dicom_out.gsps import auto_window, build_gsps
    from apn_core.dicom_out.source import read_source
    from apn_core.dicom_out.sr import build_sr

    require()
    sr_file = Path(sr_file)
    ds = read_source(source)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended")
        sr, pr = build_sr(ds, result), build_gsps(ds, result, auto_window(source))
    save_dataset(pr, pr_beside(sr_file))
    save_dataset(sr, sr_file)
    return [sr_file, pr_beside(sr_file)]
