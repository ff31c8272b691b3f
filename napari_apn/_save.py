"""Saving one image's landmarks into a ``landmarks.csv``: the plugin's one save path.

The napari writer (*File → Save Selected Layers*), Leg alignment's *Save corrected points
to folder* and the Annotate widget all call :func:`save_image`; nothing else in the
plugin writes ``landmarks.csv``. What is saved is decided per landmark (of the default
set) against the file as it is when saving (:func:`landmark_edits`):

- **unchanged**: the same state as its rows say (the same position to the file's
  precision, or absent in both, or not annotated in both) — its row is left alone;
- **changed**: a new position, newly absent ("not in this image": empty ``x,y``), or a
  new pixel spacing for the image (every annotated landmark then carries it);
- **deleted**: its row said present or absent, and now it has neither a point nor an
  absent mark — saved as *not annotated* (no row), never left at its old position.

The rows themselves are written by the core (:func:`_write`, the single call of
:func:`apn_core.annotations.update_landmarks_csv`): every other row, rows of landmarks outside
the set (``patella_right``), extra columns, quoting and line endings are the core's to keep. Coordinates are the core's: (x=col,
y=row) image pixels, NaN where a landmark has no position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet

PRECISION = 3  # decimals of x, y in landmarks.csv (the core writer's)
UNCHANGED, CHANGED, DELETED = "unchanged", "changed", "deleted"
ABSENT, NOT_ANNOTATED = "absent", "not annotated"


@dataclass(frozen=True)
class LandmarkEdits:
    """What saving does to each landmark of an image (see the module docstring);
    ``respaced``: the image's pixel spacing is new."""

    changed: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    respaced: bool = False

    def __bool__(self) -> bool:
        return bool(self.changed or self.deleted)

    def state(self, name: str) -> str:
        return CHANGED if name in self.changed else DELETED if name in self.deleted else UNCHANGED

    def points(self, labels: ImageLabels, landmarks: LandmarkSet = DEFAULT_LANDMARKS) -> dict:
        """``{landmark: (x, y) | "absent" | "not annotated"}`` for the changed and deleted
        landmarks (the unchanged ones are not named): what the core's save function is
        told per landmark."""
        out: dict[str, tuple[float, float] | str] = {}
        for name in self.changed:
            i = landmarks.index(name)
            present = labels.present[i]
            out[name] = (float(labels.xy[i, 0]), float(labels.xy[i, 1])) if present else ABSENT
        return out | dict.fromkeys(self.deleted, NOT_ANNOTATED)


def saved_labels(
    csv_path: Path, image: str, landmarks: LandmarkSet = DEFAULT_LANDMARKS
) -> ImageLabels | None:
    """The image's labels as the file holds them now (``None``: no file, or no rows for
    it). Rows the reader cannot use are skipped here (the core keeps them as they are)."""
    from apn_core.annotations import normalise_image_path, read_landmarks_csv
    from apn_core.problems import Report

    if not Path(csv_path).is_file():
        return None
    table = read_landmarks_csv(csv_path, landmarks, Report())
    return table.get(normalise_image_path(image))


def _same(a: ImageLabels, b: ImageLabels, i: int) -> bool:
    if a.annotated[i] != b.annotated[i] or a.present[i] != b.present[i]:
        return False
    if not a.present[i]:
        return True
    return bool(np.all(np.abs(a.xy[i] - b.xy[i]) <= 0.5 * 10.0**-PRECISION + 1e-9))


def _same_spacing(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return bool(np.allclose(a, b, rtol=0, atol=1e-9))


def landmark_edits(
    saved: ImageLabels | None, new: ImageLabels, landmarks: LandmarkSet = DEFAULT_LANDMARKS
) -> LandmarkEdits:
    """Per landmark: unchanged, changed or deleted (``new`` against ``saved``, the file's)."""
    saved = saved or ImageLabels.empty(new.image, len(landmarks))
    respaced = new.spacing is not None and not _same_spacing(new.spacing, saved.spacing)
    out: dict[str, list[str]] = {UNCHANGED: [], CHANGED: [], DELETED: []}
    for i, name in enumerate(landmarks.names):
        if not new.annotated[i]:
            out[DELETED if saved.annotated[i] else UNCHANGED].append(name)
        elif respaced or not _same(saved, new, i):
            out[CHANGED].append(name)
        else:
            out[UNCHANGED].append(name)
    return LandmarkEdits(tuple(out[CHANGED]), tuple(out[DELETED]), tuple(out[UNCHANGED]), respaced)


def save_image(
    csv_path: str | Path, labels: ImageLabels, landmarks: LandmarkSet = DEFAULT_LANDMARKS
) -> tuple[Path, LandmarkEdits]:
    """Save one image's ``labels`` (``labels.image``: its path relative to the CSV's
    folder) into ``csv_path``: only what changed (see the module docstring); a file
    that does not exist is created. Returns the file and the edits (nothing is written
    when there are none). The image's pixel spacing stays the file's when ``labels``
    has none; ``occluded`` flags stay on landmarks still present."""
    csv_path = Path(csv_path)
    saved = saved_labels(csv_path, labels.image, landmarks)
    merged = ImageLabels(
        labels.image,
        labels.xy.copy(),
        labels.annotated.copy(),
        labels.occluded.copy(),
        labels.spacing,
    )
    if saved is not None:
        merged.occluded = (saved.occluded | merged.occluded) & merged.present
        if merged.spacing is None:
            merged.spacing = saved.spacing
    edits = landmark_edits(saved, merged, landmarks)
    if saved is not None:  # unchanged landmarks keep the file's exact values
        keep = [landmarks.index(name) for name in edits.unchanged]
        merged.xy[keep], merged.annotated[keep] = saved.xy[keep], saved.annotated[keep]
    if edits:
        _write(csv_path, merged, edits, landmarks)
    return csv_path, edits


def _write(csv_path: Path, labels: ImageLabels, edits: LandmarkEdits, landmarks) -> Path:
    """The plugin's one call of the core's ``landmarks.csv`` editor
    (:func:`apn_core.annotations.update_landmarks_csv`): it is told only the changed and
    deleted landmarks (:meth:`LandmarkEdits.points`), the spacing when ``edits.respaced``
    and the set occlusion flags, and keeps every other row and cell as it is."""
    from apn_core import annotations as core

    marks = {ABSENT: core.ABSENT, NOT_ANNOTATED: core.NOT_ANNOTATED}
    points = {name: marks.get(p, p) for name, p in edits.points(labels, landmarks).items()}
    occluded = {name: True for name in edits.changed if labels.occluded[landmarks.index(name)]}
    spacing = labels.spacing if edits.respaced else core.UNCHANGED
    edit = core.ImageEdit(labels.image, points, spacing, occluded)
    return core.update_landmarks_csv(csv_path, edit, landmarks, precision=PRECISION)
