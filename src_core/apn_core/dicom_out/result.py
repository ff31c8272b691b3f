"""What an SR and a presentation state say about one image, from ``apn predict``'s
per-image record (:mod:`apn_core.inference.outputs`) or from landmarks edited in napari.

Coordinates here are apn's: image (x = column, y = row) pixels with ``(0, 0)`` the
**centre** of the top-left pixel, NaN where a landmark is absent. DICOM's 2-D image
coordinates (SCOORD, and a presentation state's PIXEL units; PS3.3 C.18.6.1.2 and
C.10.5.1.2) put ``(0, 0)`` at the top-left **corner** of the top-left pixel, so a pixel
centre is at ``index + 0.5``: :func:`to_dicom_xy` adds exactly 0.5 and
:func:`from_dicom_xy` takes it away (highdicom's image coordinate transforms use the
same convention).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np

from apn_core import __version__

DICOM_OFFSET = 0.5  # DICOM pixel coordinate of apn's (0, 0): the centre of the first pixel


def to_dicom_xy(xy: np.ndarray) -> np.ndarray:
    """apn (x, y) pixels → DICOM (column, row) image coordinates (see the module docstring)."""
    return np.asarray(xy, dtype=np.float64) + DICOM_OFFSET


def from_dicom_xy(xy: np.ndarray) -> np.ndarray:
    """DICOM (column, row) image coordinates → apn (x, y) pixels."""
    return np.asarray(xy, dtype=np.float64) - DICOM_OFFSET


@dataclass(frozen=True)
class Algorithm:
    """The algorithm an SR names (TID 4019): the model, the SHA-256 of its weights and
    calibration, and the settings that change results. ``key`` is what makes two results
    the same (it goes into the derived UIDs of :mod:`apn_core.dicom_out.source`)."""

    model: str
    weights_sha256: str
    calibration_sha256: str | None = None
    flip_test: bool = True
    spacing: tuple[float, float] | None = None
    spacing_source: str = ""
    software_version: str = __version__
    edited: str = ""  # non-empty: the landmarks were edited after prediction (a digest)

    @property
    def name(self) -> str:
        return f"napari-apn {self.model}"

    def parameters(self) -> list[str]:
        spacing = "none" if self.spacing is None else "\\".join(f"{s:g}" for s in self.spacing)
        params = [
            f"weights_sha256={self.weights_sha256}",
            f"calibration_sha256={self.calibration_sha256 or 'none'}",
            f"flip_test={'yes' if self.flip_test else 'no'}",
            f"pixel_spacing_mm={spacing} ({self.spacing_source or 'unknown source'})",
        ]
        if self.edited:
            params.append(f"landmarks edited in napari (digest {self.edited})")
        return params

    @property
    def key(self) -> str:
        return "|".join(
            [
                self.weights_sha256,
                self.calibration_sha256 or "",
                str(self.flip_test),
                json.dumps(self.spacing),
                self.edited,
            ]
        )


@dataclass(frozen=True)
class LandmarkResult:
    """One image's landmarks, measurements and review, as the SR reports them.

    xy ``(K, 2)`` apn pixels (NaN where absent); present, needs_review ``(K,)`` bool;
    confidence ``(K,)`` (NaN when unknown); reasons: K review reasons ("" = not flagged).
    alignment: :func:`apn_core.measurements.alignment`'s dict with the values that use a
    flagged or absent landmark set to None; notes: why (``"right.hka_deg"`` → reason).
    """

    names: tuple[str, ...]
    xy: np.ndarray
    present: np.ndarray
    confidence: np.ndarray
    needs_review: np.ndarray
    reasons: tuple[str, ...]
    alignment: dict
    notes: dict
    algorithm: Algorithm
    image_reasons: tuple[str, ...] = ()
    image_needs_review: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: dict) -> LandmarkResult:
        """From an ``apn predict`` record (``OUT/predictions/<name>.json``)."""
        rows = record["rows"]
        xy = np.array(
            [[_num(r["x"]), _num(r["y"])] if r["present"] else [math.nan] * 2 for r in rows],
            dtype=np.float64,
        ).reshape(len(rows), 2)
        review = record.get("review") or {}
        model, options = record["model"], record["options"]
        spacing = record.get("spacing")
        return cls(
            names=tuple(r["landmark"] for r in rows),
            xy=xy,
            present=np.array([bool(r["present"]) for r in rows], bool),
            confidence=np.array([_num(r["confidence"]) for r in rows], np.float64),
            needs_review=np.array([bool(r["needs_review"]) for r in rows], bool),
            reasons=tuple(str(r.get("review_reason") or "") for r in rows),
            alignment=record.get("alignment") or {},
            notes=record.get("alignment_notes") or {},
            algorithm=Algorithm(
                model=str(model.get("name")),
                weights_sha256=str(model.get("weights_sha256")),
                calibration_sha256=model.get("calibration_sha256"),
                flip_test=bool(options.get("flip_test", True)),
                spacing=None if spacing is None else (float(spacing[0]), float(spacing[1])),
                spacing_source=str(record.get("spacing_source") or ""),
            ),
            image_reasons=tuple(review.get("image_reasons") or ()),
            image_needs_review=bool(review.get("needs_review", False)),
        )

    def index(self, name: str) -> int:
        return self.names.index(name)


def _num(value) -> float:
    return math.nan if value is None else float(value)


def digest(xy: np.ndarray, names) -> str:
    """A short digest of landmark positions (to 1e-4 px) — edited landmarks are another result."""
    rounded = np.round(np.nan_to_num(np.asarray(xy, float), nan=-1.0), 4)
    text = json.dumps([list(names), rounded.tolist()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
