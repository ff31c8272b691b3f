"""A labelled folder: images plus ``landmarks.csv`` and/or per-image sidecars.

``load_labelled_folder`` is the single validator: ``apn check`` prints its report, and
training/evaluation refuse to start while it has errors. It reads every image (a
truncated file is only found by decoding it) but keeps only shapes and spacings, never
the pixels, so a folder of 660 full-size radiographs fits in memory.

Untrusted paths: image paths in ``landmarks.csv`` follow
:mod:`apn_core.annotations.paths` (relative to DATA, no ``..``, regular files only); a
path that breaks the rules is a ``bad-path`` problem and is never opened.

Spacing precedence per image: ``spacing_mm`` in landmarks.csv > the file's own tags >
``--spacing``; a CSV value that differs from the file's by more than 1 % is used and
reported (``spacing-mismatch``).

Annotation sources per image: rows in landmarks.csv win (sidecars are then reported as
ignored); otherwise one sidecar, ``<stem>.mrk.json`` or ``<stem>.csv``; both sidecars
for one image is an error (``sidecar-conflict``), since they may disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from apn_core.annotations import ImageLabels, read_landmarks_csv, read_markups, read_napari_points
from apn_core.annotations.paths import check_image_file
from apn_core.dataset.discovery import OUTPUT_MARKER, find_images, is_output_folder
from apn_core.errors import (
    AnnotationError,
    ApnError,
    BlankImageError,
    FileProblem,
    ImageReadError,
    ImageTooLargeError,
    NonFinitePixelsError,
)
from apn_core.io import Radiograph, read_radiograph
from apn_core.io.contrast import intensity_window
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet
from apn_core.problems import Report
from apn_core.spacing import (
    Spacing,
    as_spacing,
    describe_spacing,
    spacing_difference,
    spacings_disagree,
)

log = logging.getLogger(__name__)

__all__ = [
    "OUTPUT_MARKER",
    "LabelledFolder",
    "LabelledImage",
    "find_images",
    "is_output_folder",
    "load_labelled_folder",
    "merged_items",
]

LANDMARKS_CSV = "landmarks.csv"

Progress = Callable[[int, int], None]


@dataclass
class LabelledImage:
    """One usable image: where it is, its size, its spacing and its labels (no pixels)."""

    path: Path
    labels: ImageLabels
    shape: tuple[int, int]
    spacing: tuple[float, float]
    spacing_source: str


@dataclass
class LabelledFolder:
    """The usable images of a folder and the report of everything that was wrong."""

    root: Path
    landmarks: LandmarkSet
    items: list[LabelledImage] = field(default_factory=list)
    report: Report = field(default_factory=Report)

    def __len__(self) -> int:
        return len(self.items)

    def raise_for_errors(self) -> None:
        """Raise :class:`FileProblem` summarising the errors, for commands that need a clean folder."""
        if not self.report.ok:
            errors = self.report.errors
            first = "; ".join(str(p) for p in errors[:3])
            more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
            raise FileProblem(
                self.root, f"{len(errors)} problem(s): {first}{more} — run 'apn check {self.root}'"
            )


def load_labelled_folder(
    root: str | Path,
    landmarks: LandmarkSet = DEFAULT_LANDMARKS,
    spacing: float | tuple[float, float] | None = None,
    progress: Progress | None = None,
) -> LabelledFolder:
    """Collect and validate every labelled image of ``root``.

    ``spacing`` (mm/px) is used for images that have none in the file or the CSV.
    Problems go to ``folder.report``; only a missing/unusable folder, a bad ``spacing``
    or an unreadable ``landmarks.csv`` (header) raises.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileProblem(root, "not a folder" if root.exists() else "folder not found")
    given = None
    if spacing is not None:
        try:
            given = as_spacing(spacing)
        except ValueError as exc:
            raise ApnError(f"--spacing: {exc}") from None
    folder = LabelledFolder(root=root, landmarks=landmarks)
    report = folder.report
    csv_path = root / LANDMARKS_CSV
    csv_labels = read_landmarks_csv(csv_path, landmarks, report) if csv_path.exists() else {}

    images = {p.relative_to(root).as_posix(): p for p in find_images(root)}
    report.n_images = len(images)
    sources: dict[str, ImageLabels | Path] = dict(csv_labels)
    for rel, path in images.items():
        sidecars = [s for s in (_sidecar(path, ".mrk.json"), _sidecar(path, ".csv")) if s.exists()]
        names = [s.relative_to(root).as_posix() for s in sidecars]
        if rel in sources:
            for name in names:
                report.add("sidecar-ignored", name, f"{LANDMARKS_CSV} already labels {rel}")
        elif len(sidecars) > 1:
            report.add(
                "sidecar-conflict",
                rel,
                f"both {names[0]} and {names[1]} label this image; neither is used — keep one",
            )
        elif sidecars:
            sources[rel] = sidecars[0]
        else:
            report.add("unlabelled-image", rel, "no rows in landmarks.csv and no sidecar; skipped")

    for n, (rel, source) in enumerate(sorted(sources.items()), start=1):
        item = _load_item(root, rel, source, landmarks, given, report)
        if item is not None:
            folder.items.append(item)
        if progress:
            progress(n, len(sources))

    report.n_labelled = len(folder.items)
    if not folder.items:
        report.add(
            "no-labelled-images",
            str(root),
            "no usable labelled image; nothing to train or evaluate on",
        )
    report.n_landmarks = _landmark_counts(folder)
    return folder


def check_training_folders(data: list[str | Path], val: str | Path | None = None) -> None:
    """Refuse, with :class:`FileProblem`, a training folder given twice (each image would
    count twice, and a validation image split off one copy would be trained on in the
    other) or a ``--val`` folder that is also trained on (validated on its own images)."""
    seen: dict[Path, Path] = {}
    for folder in data:
        key = Path(folder).resolve()
        if key in seen:
            raise FileProblem(
                folder,
                f"given twice (also as {seen[key]}): its images would be trained on twice "
                "and validated on what was trained on; give each folder once",
            )
        seen[key] = Path(folder)
    if val is not None and Path(val).resolve() in seen:
        raise FileProblem(
            val,
            "is both a training folder and the --val folder: validation would score images "
            "the model trained on; leave --val out (a share of the images is held out) or "
            "give another folder",
        )


def merged_items(folders: list[LabelledFolder]) -> list[LabelledImage]:
    """The images of several labelled folders as one list (training on real and synthetic
    images together). One folder: its items as they are. Several: each image's name gets its
    folder's name in front (``real/a.jpg``, ``synth/case_0001.dcm``; a repeated folder name is
    numbered, ``data~2``), so names stay unique and say where each image came from."""
    if len(folders) == 1:
        return list(folders[0].items)
    out, used = [], set()
    for folder in folders:
        tag, n = folder.root.resolve().name or "data", 1
        while tag in used:
            n += 1
            tag = f"{folder.root.resolve().name}~{n}"
        used.add(tag)
        for item in folder.items:
            labels = replace(item.labels, image=f"{tag}/{item.labels.image}")
            out.append(replace(item, labels=labels))
    return out


def _sidecar(image: Path, suffix: str) -> Path:
    return image.with_name(image.name[: -len(image.suffix)] + suffix)


READ_ERROR_KINDS = (
    (ImageTooLargeError, "image-too-large"),
    (NonFinitePixelsError, "non-finite-pixels"),
    (ImageReadError, "unreadable-image"),
)


def _load_item(
    root: Path,
    rel: str,
    source: ImageLabels | Path,
    landmarks: LandmarkSet,
    given: Spacing | None,
    report: Report,
) -> LabelledImage | None:
    """Read one image's header data and labels; record problems and return None if unusable."""
    why = check_image_file(root, rel)
    if why == "missing":
        report.add("missing-file", rel, f"listed in {LANDMARKS_CSV} but not found")
        return None
    if why is not None:
        report.add("bad-path", rel, why)
        return None
    path = root / rel
    try:
        radiograph = read_radiograph(path)
    except ImageReadError as exc:
        kind = next(k for cls, k in READ_ERROR_KINDS if isinstance(exc, cls))
        report.add(kind, rel, exc.problem)
        return None
    try:
        intensity_window(radiograph.pixels)
    except BlankImageError as exc:
        report.add("blank-image", rel, exc.problem)
        return None
    labels = source if isinstance(source, ImageLabels) else None
    resolved = _resolve_spacing(rel, radiograph, labels, given, report)
    if resolved is None:
        return None
    spacing_mm, spacing_source = resolved
    if labels is None:
        try:
            labels = _read_sidecar(source, landmarks, spacing_mm, rel)  # type: ignore[arg-type]
        except AnnotationError as exc:
            report.add("malformed-sidecar", exc.path.relative_to(root).as_posix(), exc.problem)
            return None
    rows, cols = radiograph.shape
    bad = False
    for i in labels.present.nonzero()[0]:
        x, y = labels.xy[i]
        if not (-0.5 <= x <= cols - 0.5 and -0.5 <= y <= rows - 0.5):
            report.add(
                "out-of-image",
                rel,
                f"{landmarks.names[i]} at (x={x:.1f}, y={y:.1f}) is outside the {cols}×{rows} image",
            )
            bad = True
    if bad:
        return None
    return LabelledImage(path, labels, (rows, cols), spacing_mm, spacing_source)


def _resolve_spacing(
    rel: str,
    radiograph: Radiograph,
    labels: ImageLabels | None,
    given: Spacing | None,
    report: Report,
) -> tuple[Spacing, str] | None:
    """``spacing_mm`` in landmarks.csv beats the file; the file beats ``--spacing``;
    none is an error. A CSV value that disagrees with the file is kept and reported."""
    csv_spacing = labels.spacing if labels is not None else None
    own, own_source = radiograph.spacing, radiograph.spacing_source
    if csv_spacing is not None:
        if own is not None and spacings_disagree(csv_spacing, own):
            report.add(
                "spacing-mismatch",
                rel,
                f"spacing_mm {describe_spacing(csv_spacing)} in {LANDMARKS_CSV} differs from "
                f"the file's {describe_spacing(own)} ({own_source}) by "
                f"{spacing_difference(csv_spacing, own):.1%}; using {LANDMARKS_CSV}",
            )
        return csv_spacing, f"{LANDMARKS_CSV} spacing_mm"
    if own is not None:
        return own, own_source
    if given is not None:
        return given, "given explicitly (--spacing)"
    report.add(
        "missing-spacing",
        rel,
        f"no pixel spacing: {own_source}; add spacing_mm to {LANDMARKS_CSV} or pass --spacing",
    )
    return None


def _read_sidecar(
    path: Path, landmarks: LandmarkSet, spacing: tuple[float, float], rel: str
) -> ImageLabels:
    if path.name.endswith(".mrk.json"):
        return read_markups(path, landmarks, spacing, image=rel)
    return read_napari_points(path, landmarks, image=rel)


def _landmark_counts(folder: LabelledFolder) -> dict[str, dict[str, int]]:
    counts = {
        name: {"present": 0, "absent": 0, "not_annotated": 0} for name in folder.landmarks.names
    }
    for item in folder.items:
        for i, name in enumerate(folder.landmarks.names):
            key = (
                "present"
                if item.labels.present[i]
                else "absent"
                if item.labels.annotated[i]
                else "not_annotated"
            )
            counts[name][key] += 1
    return counts
