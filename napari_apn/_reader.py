"""npe2 reader: radiographs (``scale`` = pixel spacing in mm) and landmark files as
Points layers styled like predictions.

Every layer lives in millimetres (napari world coordinates), so landmarks line up with a
radiograph opened by this reader:

- ``.mrk.json``: positions are already mm (LPS) → data in mm, scale 1.
- ``landmarks.csv``: one Points layer per image, pixels with ``scale`` = the image's spacing
  (``spacing_mm`` column, else the image file beside the CSV, else 1 with a warning).
- napari Points CSV ``<stem>.csv`` (``axis-0, axis-1, label``): pixels; the spacing of an
  image with the same stem beside it, else 1.

A file this plugin cannot use makes :func:`get_reader` return ``None`` so napari can try
another reader. Each file is parsed once, inside :func:`get_reader`.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def get_reader(path):
    """Return a reader function for a single radiograph or landmark file, or ``None``."""
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    from apn_core.errors import ApnError

    try:
        layers = _read_any(Path(path))
    except (ApnError, OSError, ValueError) as exc:
        log.info("napari-apn does not open %s: %s", path, exc)
        return None
    if not layers:
        return None
    return lambda _path: layers


def _read_any(path: Path) -> list[tuple] | None:
    from apn_core.io import is_image_file

    name = path.name.lower()
    if name.endswith(".mrk.json"):
        return [_markups_layer(path)]
    if name.endswith(".csv"):
        return _csv_layers(path)
    if is_image_file(path):
        from apn_core.io import read_radiograph
        from napari_apn._layers import image_layer_data

        return [image_layer_data(read_radiograph(path))]
    return None


def _markups_layer(path: Path) -> tuple:
    from apn_core.annotations import read_markups
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from napari_apn._layers import points_layer_data

    labels = read_markups(path, DEFAULT_LANDMARKS, (1.0, 1.0))  # "pixels" of 1 mm = mm
    stem = path.name[: -len(".mrk.json")]
    return points_layer_data(
        labels, DEFAULT_LANDMARKS, (1.0, 1.0), f"{stem} landmarks", source=str(path)
    )


def _csv_layers(path: Path) -> list[tuple] | None:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    if {"image", "landmark", "x", "y"} <= set(header):
        return _landmarks_csv_layers(path)
    if {"axis-0", "axis-1", "label"} <= set(header):
        return [_napari_points_layer(path)]
    return None


def _spacing_of(image: Path) -> tuple[float, float] | None:
    from apn_core.errors import ApnError
    from apn_core.io import read_radiograph

    if not image.exists():
        return None
    try:
        return read_radiograph(image).spacing
    except ApnError:
        return None


def _landmarks_csv_layers(path: Path) -> list[tuple]:
    from apn_core.annotations import read_landmarks_csv
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from napari_apn._layers import points_layer_data

    layers = []
    for image, labels in read_landmarks_csv(path, DEFAULT_LANDMARKS).items():
        spacing = labels.spacing or _spacing_of(path.parent / image)
        if spacing is None:
            log.warning("%s: no spacing for %s; its points are in pixels (scale 1)", path, image)
        layers.append(points_layer_data(labels, DEFAULT_LANDMARKS, spacing or (1.0, 1.0), f"{image} landmarks",
                                        source=str(path), image=image))  # fmt: skip
    return layers


def _napari_points_layer(path: Path) -> tuple:
    from apn_core.annotations import read_napari_points
    from apn_core.io import IMAGE_SUFFIXES
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from napari_apn._layers import points_layer_data

    labels = read_napari_points(path, DEFAULT_LANDMARKS)
    images = [path.with_suffix(s) for s in sorted(IMAGE_SUFFIXES) if path.with_suffix(s).exists()]
    spacing = _spacing_of(images[0]) if images else None
    return points_layer_data(labels, DEFAULT_LANDMARKS, spacing or (1.0, 1.0), f"{path.stem} landmarks",
                             source=str(path), image=images[0].name if images else "")  # fmt: skip
