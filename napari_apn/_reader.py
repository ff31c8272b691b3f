"""npe2 reader: radiographs (``scale`` = pixel spacing in mm) and landmark files as
Points layers that know their image (see :mod:`napari_apn._layers`).

- DICOM/TIFF: always accepted (without spacing tags, a ruler on the film gives the
  spacing, as in ``apn predict``); a file that is not a usable radiograph (colour,
  multi-frame, truncated, no pixel data) raises its :class:`~apn_core.errors.FileProblem`,
  which napari shows — the user learns why instead of being offered another reader.
- ``.mrk.json``: positions are mm; with the image beside it (same stem) the points land
  in that image's pixels and spacing, else they stay in mm (scale 1 mm).
- ``landmarks.csv``: one Points layer per image, pixels with the image's spacing (the
  ``spacing_mm`` column, else the image file beside the CSV). Rows it cannot use (a
  landmark outside the default set, a malformed row) are skipped with a notification.
- napari Points CSV ``<stem>.csv`` (``axis-0, axis-1, label``): pixels; the spacing of the
  image with the same stem beside it.

Landmarks without a spacing open in **pixel units** (never mm at scale 1), with a
visible notification. CSV and JSON files that are not landmark files are declined
(``None``) so napari can offer another reader.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".dcm", ".dicom", ".tif", ".tiff")  # the manifest's image patterns
NO_SPACING = (
    "{what}: no pixel spacing (no spacing_mm column and no image beside it); the points "
    "open in pixel units and nothing is measured in mm — open the radiograph with "
    "napari-apn and its points with it"
)


def get_reader(path):
    """A reader function for one radiograph or landmark file, or ``None``."""
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    path = Path(path)
    name = path.name.lower()
    if name.endswith(IMAGE_SUFFIXES):
        return _read_image
    if name.endswith(".mrk.json"):
        return _read_markups if _is_markups(path) else None
    if name.endswith(".csv"):
        kind = _csv_kind(path)
        return {"landmarks": _read_landmarks_csv, "napari": _read_napari_points}.get(kind)
    return None


def _reader(read):
    """Wrap a reader: one path, and the active viewer's landmarks layers guarded."""

    def wrapped(path):
        from napari_apn._points import watch_current_viewer

        path = Path(path[0] if isinstance(path, list | tuple) else path)
        layers = read(path)
        watch_current_viewer()
        return layers

    wrapped.__doc__ = read.__doc__
    return wrapped


def _notify_pixels(what: str) -> None:
    from napari.utils.notifications import show_warning

    log.warning(NO_SPACING.format(what=what))
    show_warning(NO_SPACING.format(what=what))


@_reader
def _read_image(path: Path) -> list[tuple]:
    """A radiograph; raises FileProblem (shown by napari) when it is not usable. Without a
    spacing in the file, a ruler on the film gives it (:mod:`napari_apn._calibration`)."""
    from napari_apn._calibration import read_with_object
    from napari_apn._layers import image_layer_data

    return [image_layer_data(read_with_object(path))]


def _is_markups(path: Path) -> bool:
    from apn_core.errors import ApnError
    from apn_core.utils.files import read_json

    try:  # a regular file of bounded size and depth: a FIFO must not hang napari
        return isinstance(read_json(path, "markups", 64 << 20).get("markups"), list)
    except (ApnError, AttributeError):
        return False


def _csv_kind(path: Path) -> str | None:
    from apn_core.errors import ApnError
    from apn_core.utils.files import read_text

    try:  # a regular file of bounded size: a FIFO must not hang napari
        header = set(next(csv.reader(io.StringIO(read_text(path, "CSV"), newline="")), []))
    except (ApnError, csv.Error):
        return None
    if {"image", "landmark", "x", "y"} <= header:
        return "landmarks"
    if {"axis-0", "axis-1", "label"} <= header:
        return "napari"
    return None


def _image_beside(path: Path, stem: str) -> Path | None:
    from apn_core.io import IMAGE_SUFFIXES as ALL

    found = [path.parent / f"{stem}{s}" for s in sorted(ALL)]
    return next((p for p in found if p.is_file()), None)


def _spacing_of(image: Path | None) -> tuple[float, float] | None:
    from apn_core.errors import ApnError
    from apn_core.io import read_radiograph
    from napari_apn._calibration import read_with_object

    if image is None or not image.is_file():
        return None
    # as the image opens: this reader's (DICOM/TIFF) with a ruler's spacing where the file
    # has none; a PNG/JPEG opens in napari's own reader, in pixels
    read = read_with_object if image.name.lower().endswith(IMAGE_SUFFIXES) else read_radiograph
    try:
        return read(image).spacing
    except ApnError:
        return None


def _ref(image: Path | None, name: str | None, spacing):
    from napari_apn._layers import ImageRef

    path = str(image.resolve()) if image is not None else None
    return ImageRef(name or (image.name if image is not None else None), path, spacing)


@_reader
def _read_markups(path: Path) -> list[tuple]:
    """A Slicer markups file (mm), in its image's pixels when the image is beside it."""
    from apn_core.annotations import read_markups
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from napari_apn._layers import ImageRef, points_layer_data

    stem = path.name[: -len(".mrk.json")]
    image = _image_beside(path, stem)
    spacing = _spacing_of(image)
    if spacing is None:  # positions in mm: "pixels" of 1 mm, a genuine mm layer
        labels = read_markups(path, DEFAULT_LANDMARKS, (1.0, 1.0))
        ref = ImageRef(None, None, (1.0, 1.0))
    else:
        labels = read_markups(path, DEFAULT_LANDMARKS, spacing)
        ref = _ref(image, None, spacing)
    return [points_layer_data(labels, f"{stem} landmarks", ref, source=str(path))]


@_reader
def _read_landmarks_csv(path: Path) -> list[tuple]:
    """Every image's landmarks of a ``landmarks.csv``, one Points layer each."""
    from napari.utils.notifications import show_warning

    from apn_core.annotations import read_landmarks_csv
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from apn_core.problems import Report
    from napari_apn._layers import points_layer_data

    layers, unscaled, report = [], [], Report()
    table = read_landmarks_csv(path, DEFAULT_LANDMARKS, report)
    if report.problems:
        first = report.problems[0]
        show_warning(f"{path.name}: {len(report.problems)} row(s) not shown (first: {first})")
    for image, labels in table.items():
        file = path.parent / image
        spacing = labels.spacing or _spacing_of(file)
        if spacing is None:
            unscaled.append(image)
        ref = _ref(file, image, spacing)
        layers.append(points_layer_data(labels, f"{image} landmarks", ref, source=str(path)))
    if unscaled:
        _notify_pixels(
            f"{path.name} ({', '.join(unscaled[:3])}{' …' if len(unscaled) > 3 else ''})"
        )
    return layers


@_reader
def _read_napari_points(path: Path) -> list[tuple]:
    """A napari Points CSV (napari's own writer) with a ``label`` column."""
    from apn_core.annotations import read_napari_points
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from napari_apn._layers import points_layer_data

    image = _image_beside(path, path.stem)
    labels = read_napari_points(path, DEFAULT_LANDMARKS, image.name if image else path.stem)
    spacing = _spacing_of(image)
    if spacing is None:
        _notify_pixels(path.name)
    ref = _ref(image, None, spacing)
    return [points_layer_data(labels, f"{path.stem} landmarks", ref, source=str(path))]
