"""The Annotate widget's state file ``DATA/.apn-annotate.json``: the image open, the model,
the reviewed images and the cached predictions (per model, per image).

A prediction is kept for one model — the SHA-256 of its weights file — and one image
file: its path relative to DATA, size and modification time; a changed file or another
model is predicted again. A state file that cannot be used (truncated, hand-edited) is
reported and work starts afresh; only the predictions of the :data:`KEEP_MODELS` models
used last are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels
from apn_core.errors import ApnError
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet
from apn_core.utils.files import read_json

STATE_FILE = ".apn-annotate.json"
STATE_FORMAT = "napari-apn-annotate"
MAX_STATE_BYTES = 64 << 20
KEEP_MODELS = 3  # predictions of this many models are kept in the state file


@dataclass(frozen=True)
class Uncertainty:
    """How unsure the model is about an image. score: 1 − the lowest confidence of its
    present landmarks (0 = sure, 1 = no present landmark); absent: landmarks it reports
    absent. One small function (:func:`uncertainty`) makes it, so a calibrated measure
    can replace it.

    :attr:`value` is the one number the list shows and sorts by: ``absent + score`` (the
    whole part counts the absent landmarks, the fraction is the score: 2.10 = two absent,
    lowest confidence 0.90), so the order never disagrees with the column."""

    score: float
    absent: int

    @property
    def value(self) -> float:
        return round(self.absent + self.score, 6)

    def sort_key(self) -> tuple[float]:
        """Most uncertain first when sorted ascending (the largest :attr:`value`)."""
        return (-self.value,)


def uncertainty(confidence: np.ndarray, present: np.ndarray) -> Uncertainty:
    """:class:`Uncertainty` of one prediction (``(K,)`` confidence and present)."""
    confidence, present = np.asarray(confidence, float), np.asarray(present, bool)
    lowest = float(confidence[present].min()) if present.any() else 0.0
    return Uncertainty(round(1.0 - lowest, 6), int((~present).sum()))


@dataclass
class CachedPrediction:
    """A model's prediction for one image, as cached: ``(K, 2)`` xy px (NaN where absent),
    ``(K,)`` confidence and present, in the model's landmark order (``names``); ``stamp``
    = (file size, mtime ns) of the image it was made from."""

    stamp: tuple[int, int]
    names: tuple[str, ...]
    xy: np.ndarray
    confidence: np.ndarray
    present: np.ndarray

    def to_json(self) -> dict:
        return {
            "size": self.stamp[0],
            "mtime_ns": self.stamp[1],
            "names": list(self.names),
            "xy": [
                None if not p else [float(v) for v in xy]
                for xy, p in zip(self.xy, self.present, strict=True)
            ],
            "confidence": [float(c) for c in self.confidence],
            "present": [bool(p) for p in self.present],
        }

    @classmethod
    def from_json(cls, d: dict) -> CachedPrediction:
        """Raises ``KeyError``/``TypeError``/``ValueError`` on a malformed entry."""
        names = tuple(str(n) for n in d["names"])
        xy = np.array([[np.nan, np.nan] if p is None else p for p in d["xy"]], float)
        out = cls(
            (int(d["size"]), int(d["mtime_ns"])),
            names,
            xy.reshape(-1, 2),
            np.asarray(d["confidence"], float),
            np.asarray(d["present"], bool),
        )
        if not (len(names) == len(out.xy) == len(out.confidence) == len(out.present)):
            raise ValueError("lengths differ")
        return out

    def labels(self, image: str, landmarks: LandmarkSet = DEFAULT_LANDMARKS):
        """``(ImageLabels, (K,) confidence)`` in ``landmarks`` order (landmarks the model
        does not know: not annotated, confidence NaN)."""
        out = ImageLabels.empty(image, len(landmarks))
        confidence = np.full(len(landmarks), np.nan)
        for j, name in enumerate(self.names):
            if name in landmarks:
                i = landmarks.index(name)
                out.xy[i] = self.xy[j] if self.present[j] else np.nan
                out.annotated[i] = True
                confidence[i] = self.confidence[j]
        return out, confidence

    def uncertainty(self) -> Uncertainty:
        return uncertainty(self.confidence, self.present)


def file_stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@dataclass
class State:
    """What :data:`STATE_FILE` holds: the open image, the model, the reviewed images and
    the cached predictions (``{model id: {image: CachedPrediction}}``, newest model last)."""

    current: str | None = None
    model: str = "default"
    reviewed: set[str] = field(default_factory=set)
    predictions: dict[str, dict[str, CachedPrediction]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "format": STATE_FORMAT,
            "version": 1,
            "current": self.current,
            "model": self.model,
            "reviewed": sorted(self.reviewed),
            "predictions": {
                model: {rel: p.to_json() for rel, p in sorted(cached.items())}
                for model, cached in list(self.predictions.items())[-KEEP_MODELS:]
            },
        }

    @classmethod
    def from_json(cls, d: dict) -> State:
        """Lenient: a malformed cached prediction is dropped (it is predicted again)."""
        if not isinstance(d, dict) or d.get("format") != STATE_FORMAT:
            raise ValueError(f"not a {STATE_FORMAT} file")
        current, model = d.get("current"), d.get("model", "default")
        reviewed = d.get("reviewed", [])
        if not isinstance(reviewed, list) or not all(isinstance(r, str) for r in reviewed):
            raise ValueError("'reviewed' is not a list of image paths")
        state = cls(
            current if isinstance(current, str) else None,
            model if isinstance(model, str) else "default",
            set(reviewed),
        )
        for key, cached in (d.get("predictions") or {}).items():
            state.predictions[str(key)] = {}
            for rel, entry in (cached if isinstance(cached, dict) else {}).items():
                try:
                    state.predictions[str(key)][str(rel)] = CachedPrediction.from_json(entry)
                except (KeyError, TypeError, ValueError):
                    continue
        return state


def read_state(root: Path) -> tuple[State, str | None]:
    """The folder's state and a warning when its state file could not be used (work
    then starts afresh; the file is replaced at the next save)."""
    path = root / STATE_FILE
    if not path.exists():
        return State(), None
    try:
        # a regular file, bounded size and depth: a FIFO must not hang Annotate
        return State.from_json(read_json(path, "state file", MAX_STATE_BYTES)), None
    except (ApnError, ValueError) as exc:
        return State(), f"{path}: cannot be used ({exc}); starting afresh"
