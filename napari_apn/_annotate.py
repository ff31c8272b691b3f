"""The Annotate widget's napari-free part: a session over one folder of radiographs.

A session is a folder DATA (a labelled folder, or just images), its saved labels
(``DATA/landmarks.csv``), the current model's predictions for its images, and what the
user did: which images are reviewed and which one is open. That state is kept in the
hidden file ``DATA/.apn-annotate.json`` (:data:`STATE_FILE`), so reopening the folder
resumes on the same image without predicting again:

- predictions are cached per model (the SHA-256 of its weights file and of its
  calibration, :func:`napari_apn._models.model_identity`) and per image (its path
  relative to DATA, file size and modification time): a changed image, another model or
  a new calibration predicts again;
- nothing else in DATA is written: saving an image changes only its rows of
  ``landmarks.csv``, through the plugin's one save path (:mod:`napari_apn._save`).

Coordinates are the core's: (x=col, y=row) image pixels, NaN where a landmark has no
position. A landmark is present (a point), absent (annotated "not in this image": empty
``x,y``) or not annotated (no row). Spacing per image follows the labelled folder's
precedence: ``spacing_mm`` in landmarks.csv, else the file's own, else the spacing the
user gave for images without one.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels
from apn_core.errors import ApnError, FileProblem
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet
from napari_apn._annotate_state import (
    STATE_FILE,
    CachedPrediction,
    file_stamp,
    read_state,
)

LANDMARKS_CSV = "landmarks.csv"
UNLABELLED, PREDICTED, LABELLED, REVIEWED = "unlabelled", "predicted", "labelled", "reviewed"
UNREADABLE = "unreadable"
BY_UNCERTAINTY, BY_NAME = "least certain first", "folder order"
_PREDICT_LOCK = threading.Lock()  # one prediction at a time (list worker and image worker)
_RECENT: dict[tuple, CachedPrediction] = {}  # the last predictions made (see predict_image)


@dataclass
class ImageView:
    """What opening one image shows (made in a worker thread): the radiograph, the labels
    to show (saved, else predicted) with their confidence (predictions only), the landmarks
    that are absent, where the points came from, and a prediction made to show them."""

    image: str
    radiograph: object  # apn_core.io.Radiograph
    labels: ImageLabels
    confidence: np.ndarray | None
    absent: list[str]
    source: str
    prediction: CachedPrediction | None = None


class Session:
    """One folder being annotated (see the module docstring). Not thread-safe: the widget
    calls it on the UI thread and hands workers plain values (:meth:`read_args`)."""

    def __init__(self, root: Path, images: list[str], labels: dict[str, ImageLabels]) -> None:
        self.root = root
        self.images = images
        self.labels = labels
        self.state, self.warning = read_state(root)
        self.csv_problems = 0
        self.problems: dict[str, str] = {}  # image → why it could not be read or predicted

    @classmethod
    def open(cls, root: str | Path, landmarks: LandmarkSet = DEFAULT_LANDMARKS) -> Session:
        """Read a folder: its images (as ``apn check`` finds them) and landmarks.csv.
        :class:`FileProblem` when it is not a folder, holds no images, or its
        landmarks.csv cannot be read; bad rows are counted (``csv_problems``) and skipped."""
        from apn_core.annotations import read_landmarks_csv
        from apn_core.dataset import find_images
        from apn_core.problems import Report

        root = Path(root)
        if not root.is_dir():
            raise FileProblem(root, "not a folder" if root.exists() else "folder not found")
        images = [p.relative_to(root).as_posix() for p in find_images(root)]
        if not images:
            raise FileProblem(
                root, "holds no radiographs (DICOM, TIFF, PNG or JPEG); choose another folder"
            )
        report = Report()
        csv_path = root / LANDMARKS_CSV
        labels = read_landmarks_csv(csv_path, landmarks, report) if csv_path.exists() else {}
        session = cls(root, images, labels)
        session.csv_problems = len(report.errors)
        return session

    # ----- statuses and order ----------------------------------------------------------
    def prediction(self, rel: str, model_id: str | None) -> CachedPrediction | None:
        """The cached prediction of ``rel`` by that model, if the file is unchanged."""
        cached = self.state.predictions.get(model_id or "", {}).get(rel)
        try:
            fresh = cached is not None and cached.stamp == file_stamp(self.root / rel)
        except OSError:
            fresh = False
        return cached if fresh else None

    def saved(self, rel: str) -> ImageLabels | None:
        labels = self.labels.get(rel)
        return labels if labels is not None and labels.annotated.any() else None

    def status(self, rel: str, model_id: str | None) -> str:
        """``unlabelled``/``predicted``/``labelled``/``reviewed``, with ``· N absent`` when
        the saved labels (else the prediction) have absent landmarks; ``unreadable`` for
        an image without labels that could not be read (:attr:`problems` says why)."""
        saved, cached = self.saved(rel), self.prediction(rel, model_id)
        if saved is None and cached is None and rel in self.problems:
            return UNREADABLE
        if saved is not None:
            word = REVIEWED if rel in self.state.reviewed else LABELLED
            absent = int(saved.absent.sum())
        elif cached is not None:
            word, absent = PREDICTED, int((~cached.present).sum())
        else:
            word, absent = UNLABELLED, 0
        return f"{word} · {absent} absent" if absent else word

    def ordered(self, by: str, model_id: str | None) -> list[str]:
        """The images in folder order, or least certain first (:meth:`Uncertainty.sort_key`;
        images without a prediction after the others). Reviewing or saving an image does
        not move it, so ``N`` goes on to the next least certain one."""
        if by != BY_UNCERTAINTY:
            return list(self.images)

        def key(rel: str):
            cached = self.prediction(rel, model_id)
            return (cached is None, cached.uncertainty().sort_key() if cached else (0, 0.0))

        return sorted(self.images, key=key)  # stable: folder order among equals

    def stale(self, model_id: str) -> list[str]:
        """Images without a fresh prediction by that model."""
        return [rel for rel in self.images if self.prediction(rel, model_id) is None]

    def store(self, model_id: str, rel: str, result: CachedPrediction | str) -> None:
        """Keep a prediction (or the reason there is none) of ``rel`` by that model."""
        if isinstance(result, str):
            self.problems[rel] = result
            return
        self.problems.pop(rel, None)
        cached = self.state.predictions.pop(model_id, {})
        cached[rel] = result
        self.state.predictions[model_id] = cached  # newest model last

    # ----- reading, saving -------------------------------------------------------------
    def read_args(self, rel: str, fallback: float | None) -> tuple[Path, object, bool]:
        """``(path, spacing, override)`` for :func:`read_image`: landmarks.csv's
        ``spacing_mm`` replaces the file's (as in ``apn check``); ``fallback`` mm/px is
        only used where the file has none."""
        saved = self.labels.get(rel)
        if saved is not None and saved.spacing is not None:
            return self.root / rel, saved.spacing, True
        return self.root / rel, fallback, False

    def save(self, rel: str, labels: ImageLabels) -> Path | None:
        """Save ``rel``'s labels into landmarks.csv (atomically) through the plugin's one
        save path (:func:`napari_apn._save.save_image`): each landmark unchanged, changed
        or deleted against the file; every other row kept byte for byte; ``occluded``
        flags stay on landmarks still present. Returns the file, or ``None`` when nothing
        changed (nothing written)."""
        from napari_apn._save import save_image

        labels.image = rel
        path, edits = save_image(self.root / LANDMARKS_CSV, labels, DEFAULT_LANDMARKS)
        self.labels[rel] = labels
        return path if edits else None

    def set_reviewed(self, rel: str, reviewed: bool = True) -> None:
        (self.state.reviewed.add if reviewed else self.state.reviewed.discard)(rel)

    def write_state(self) -> None:
        from apn_core.utils.atomic import write_text_atomic

        write_text_atomic(self.root / STATE_FILE, json.dumps(self.state.to_json()))

    def reviewed_images(self) -> list[str]:
        """Reviewed images that have saved labels, in folder order."""
        return [r for r in self.images if r in self.state.reviewed and self.saved(r)]

    def training_folder(self, out: Path, images: list[str], labelled: bool = True) -> Path:
        """A folder ``apn train`` reads as ``images`` of DATA: links to them (copies where
        links cannot be made) at the same relative paths and, when ``labelled``, a
        landmarks.csv with only their rows. DATA itself is not touched."""
        from apn_core.annotations import write_landmarks_csv

        out.mkdir(parents=True, exist_ok=False)
        for rel in images:
            target, link = (self.root / rel).resolve(), out / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.symlink(target, link)
            except OSError:  # e.g. Windows without the privilege to make links
                shutil.copy2(target, link)
        if labelled:
            rows = [self.labels[rel] for rel in images]
            write_landmarks_csv(out / LANDMARKS_CSV, rows, DEFAULT_LANDMARKS)
        return out


def read_image(path: Path, spacing, override: bool):
    """The radiograph with the session's spacing rule (see :meth:`Session.read_args`)."""
    from apn_core.io import read_radiograph

    source = "landmarks.csv spacing_mm" if override else "given in the Annotate widget"
    return read_radiograph(path, spacing, source, override=override)


def predict_image(radiograph, model: str) -> CachedPrediction:
    """The model's prediction for a radiograph (stamped by its file). Serialised, since
    the list's worker and the image's worker share one loaded model; an image both ask
    for (the one opened while the list is predicted) is predicted once."""
    from napari_apn._models import model_stamp, predictor

    path = radiograph.path
    key = (str(path.resolve()), file_stamp(path), model, model_stamp(model))
    with _PREDICT_LOCK:
        if key in _RECENT:
            return _RECENT[key]
        p = predictor(model).predict(np.asarray(radiograph.pixels, np.float32), radiograph.spacing)
        out = CachedPrediction(key[1], tuple(p.names), p.xy, p.confidence, p.present)
        _RECENT[key] = out
        while len(_RECENT) > 32:
            _RECENT.pop(next(iter(_RECENT)))
    return out


def predict_images(items: list[tuple[str, Path, object, bool]], model: str, cancelled=None):
    """Predict images one by one (a worker thread's generator): yields
    ``(rel, CachedPrediction or the reason it failed)``; stops early when ``cancelled()``."""
    for rel, path, spacing, override in items:
        if cancelled is not None and cancelled():
            return
        try:
            yield rel, predict_image(read_image(path, spacing, override), model)
        except ApnError as exc:
            yield rel, str(exc)


def load_view(
    rel: str,
    read: tuple[Path, object, bool],
    saved: ImageLabels | None,
    cached: CachedPrediction | None,
    model: str,
) -> ImageView:
    """What opening ``rel`` shows: its saved labels, else the model's prediction (made now
    when not cached). Raises :class:`ApnError` for an unusable image or model."""
    radiograph = read_image(*read)
    names = DEFAULT_LANDMARKS.names
    if saved is not None:
        absent = [names[i] for i in np.flatnonzero(saved.absent)]
        return ImageView(rel, radiograph, saved, None, absent, LANDMARKS_CSV)
    made = None
    if cached is None:
        cached = made = predict_image(radiograph, model)
    labels, confidence = cached.labels(rel)
    absent = [names[i] for i in np.flatnonzero(labels.absent)]
    return ImageView(rel, radiograph, labels, confidence, absent, "model", made)
