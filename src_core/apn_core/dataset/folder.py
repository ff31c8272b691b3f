"""A labelled folder: images plus ``landmarks.csv`` and/or per-image sidecars.

``load_labelled_folder`` is the single validator: ``apn check`` prints its report, and
training/evaluation refuse to start while it has errors. It reads every image (a
truncated file is only found by decoding it) but keeps only shapes and spacings, never
the pixels, so a folder of 660 full-size radiographs fits in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from apn_core.annotations import ImageLabels, read_landmarks_csv, read_markups, read_napari_points
from apn_core.errors import AnnotationError, FileProblem, ImageReadError
from apn_core.io import is_image_file, read_radiograph
from apn_core.io.radiograph import validate_spacing
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet
from apn_core.problems import Report

log = logging.getLogger(__name__)

LANDMARKS_CSV = "landmarks.csv"
SPACING_TOLERANCE = 0.01  # relative difference at which file and CSV spacing "disagree"

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


def find_images(root: Path) -> Iterator[Path]:
    """Image files under ``root`` (recursively, sorted), skipping hidden files and folders."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and is_image_file(path):
            yield path


def load_labelled_folder(
    root: str | Path,
    landmarks: LandmarkSet = DEFAULT_LANDMARKS,
    spacing: float | tuple[float, float] | None = None,
    progress: Progress | None = None,
) -> LabelledFolder:
    """Collect and validate every labelled image of ``root``.

    ``spacing`` (mm/px) is used for images that have none in the file or the CSV.
    Problems go to ``folder.report``; only a missing/unusable folder or an unreadable
    ``landmarks.csv`` header raises.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileProblem(root, "not a folder" if root.exists() else "folder not found")
    folder = LabelledFolder(root=root, landmarks=landmarks)
    report = folder.report
    csv_path = root / LANDMARKS_CSV
    csv_labels = read_landmarks_csv(csv_path, landmarks, report) if csv_path.exists() else {}

    images = {p.relative_to(root).as_posix(): p for p in find_images(root)}
    report.n_images = len(images)
    sources: dict[str, ImageLabels | Path] = dict(csv_labels)
    for rel, path in images.items():
        sidecars = [s for s in (_sidecar(path, ".mrk.json"), _sidecar(path, ".csv")) if s.exists()]
        if rel in sources:
            for s in sidecars:
                report.add("sidecar-ignored", s.name, f"{LANDMARKS_CSV} already labels {rel}")
        elif sidecars:
            sources[rel] = sidecars[0]
        else:
            report.add("unlabelled-image", rel, "no rows in landmarks.csv and no sidecar; skipped")

    for n, (rel, source) in enumerate(sorted(sources.items()), start=1):
        item = _load_item(root, rel, source, landmarks, spacing, report)
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


def _sidecar(image: Path, suffix: str) -> Path:
    return image.with_name(image.name[: -len(image.suffix)] + suffix)


def _load_item(
    root: Path,
    rel: str,
    source: ImageLabels | Path,
    landmarks: LandmarkSet,
    spacing: float | tuple[float, float] | None,
    report: Report,
) -> LabelledImage | None:
    """Read one image's header data and labels; record problems and return None if unusable."""
    path = root / rel
    if not path.exists():
        report.add("missing-file", rel, f"listed in {LANDMARKS_CSV} but not found")
        return None
    try:
        radiograph = read_radiograph(path)
    except ImageReadError as exc:
        report.add("unreadable-image", rel, exc.problem)
        return None
    labels = source if isinstance(source, ImageLabels) else None
    resolved = _resolve_spacing(
        rel, radiograph.spacing, radiograph.spacing_source, labels, spacing, report
    )
    if resolved is None:
        return None
    spacing_mm, spacing_source = resolved
    if labels is None:
        try:
            labels = _read_sidecar(source, landmarks, spacing_mm, rel)  # type: ignore[arg-type]
        except AnnotationError as exc:
            report.add("malformed-row", exc.path.name, exc.problem)
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


def _resolve_spacing(rel, file_spacing, file_source, labels, given, report):
    """CSV ``spacing_mm`` beats the file; the file beats ``--spacing``; none is an error."""
    csv_spacing = labels.spacing if labels is not None else None
    if csv_spacing is not None:
        if file_spacing is not None and any(
            abs(a - b) > SPACING_TOLERANCE * b
            for a, b in zip(csv_spacing, file_spacing, strict=True)
        ):
            report.add(
                "spacing-mismatch",
                rel,
                f"spacing_mm {csv_spacing} in {LANDMARKS_CSV} differs from {file_source} "
                f"{file_spacing}; using the CSV",
            )
        return csv_spacing, f"{LANDMARKS_CSV} spacing_mm"
    if file_spacing is not None:
        return file_spacing, file_source
    if given is not None:
        return validate_spacing(given, "--spacing"), "given explicitly (--spacing)"
    report.add(
        "missing-spacing",
        rel,
        "no spacing in the file; add spacing_mm to landmarks.csv or pass --spacing",
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
