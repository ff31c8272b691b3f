"""The annotation of one image, with the three states a landmark can be in.

For each of the K landmarks:
- **present**: annotated with a position (finite ``xy``);
- **absent**: annotated as *not in the image* (restricted view, amputation): ``xy`` NaN,
  ``annotated`` True — training teaches the model to report it absent;
- **not annotated**: nobody said: ``xy`` NaN, ``annotated`` False — training masks it,
  evaluation skips it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from apn_core.landmarks import LandmarkSet


@dataclass
class ImageLabels:
    """Landmarks of one image.

    image: path of the image relative to the labelled folder (POSIX separators).
    xy: ``(K, 2)`` float64, (x=col, y=row) pixels; NaN unless present.
    annotated: ``(K,)`` bool; False = not annotated.
    occluded: ``(K,)`` bool; True where the data flags the landmark as hidden by metal
        or a shield (optional ground truth, used to report accuracy on the hard cases).
    spacing: ``(row_mm, col_mm)`` given with the labels (``spacing_mm`` column), or None.
    """

    image: str
    xy: np.ndarray
    annotated: np.ndarray
    occluded: np.ndarray = field(default=None)  # type: ignore[assignment]
    spacing: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self.xy = np.asarray(self.xy, dtype=np.float64).reshape(-1, 2)
        k = len(self.xy)
        self.annotated = np.asarray(self.annotated, dtype=bool).reshape(k)
        if self.occluded is None:
            self.occluded = np.zeros(k, dtype=bool)
        self.occluded = np.asarray(self.occluded, dtype=bool).reshape(k)

    @classmethod
    def empty(cls, image: str, k: int) -> ImageLabels:
        """All K landmarks not annotated."""
        return cls(image, np.full((k, 2), np.nan), np.zeros(k, dtype=bool))

    @property
    def present(self) -> np.ndarray:
        """``(K,)`` bool: annotated with a finite position."""
        return self.annotated & np.all(np.isfinite(self.xy), axis=1)

    @property
    def absent(self) -> np.ndarray:
        """``(K,)`` bool: annotated as not in the image."""
        return self.annotated & ~self.present

    def as_dict(self, landmarks: LandmarkSet) -> dict[str, tuple[float, float] | None]:
        """``{name: (x, y)}`` for present landmarks, ``{name: None}`` for absent ones."""
        out: dict[str, tuple[float, float] | None] = {}
        for i, name in enumerate(landmarks.names):
            if self.present[i]:
                out[name] = (float(self.xy[i, 0]), float(self.xy[i, 1]))
            elif self.annotated[i]:
                out[name] = None
        return out
