"""The pixel spacing of an image layer from a calibration object (no Qt; the widgets and
tests call these): the ruler or ball on the film (:mod:`apn_core.calibration_object`),
or a line the user drew over a known length — as planning software calibrates.

A calibration is applied to the image layer and to the Points layers that belong to it
(``apn_image`` in their metadata): ``scale`` = spacing, ``units`` = mm, and the layer's
``apn_calibration`` metadata says where the spacing came from, which Leg alignment shows
beside the measurements.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

CALIBRATION_KEY = "apn_calibration"
LINE_LAYER = "calibration line"


def read_with_object(path):
    """:func:`apn_core.io.read_radiograph`, with the spacing of a ruler on the film where
    the file has none (as ``apn predict`` and Batch do: one estimate for all)."""
    from apn_core.calibration_object.choice import AUTO
    from apn_core.calibration_object.resolve import apply_object
    from apn_core.io import read_radiograph

    radiograph = read_radiograph(path)
    if radiograph.spacing is not None:
        return radiograph
    radiograph, found, by_object = apply_object(radiograph, AUTO)
    if by_object:
        meta = {**radiograph.meta, "calibration": found.estimate.describe()}
        radiograph = replace(radiograph, meta=meta)
    return radiograph


def estimate_layer_spacing(data: np.ndarray, choice: str = "auto"):
    """The calibration object's estimate for an image layer's pixels, or None (core call,
    safe in a worker thread)."""
    from apn_core.calibration_object import estimate_spacing

    return estimate_spacing(np.asarray(data), choice)


def spacing_from_line(line: np.ndarray, length_mm: float) -> float:
    """mm/px from a line ``(2, 2)`` drawn in image data pixels (row, col) that spans
    ``length_mm``; ``ValueError`` for a line too short to calibrate on (< 5 px) or a
    length that is not a positive number."""
    line = np.asarray(line, float).reshape(-1, 2)
    if len(line) < 2:
        raise ValueError("draw a line (two points) over the object of known length")
    if not (math.isfinite(length_mm) and length_mm > 0):
        raise ValueError(f"the known length must be a positive number of mm, not {length_mm}")
    pixels = float(np.linalg.norm(line[-1] - line[0]))
    if pixels < 5:
        raise ValueError(f"the line is {pixels:.1f} px long: draw it over the whole object")
    return length_mm / pixels


def line_in_pixels(shapes_layer, image_layer) -> np.ndarray:
    """The last line of ``shapes_layer`` in ``image_layer``'s data pixels (row, col)."""
    if not len(shapes_layer.data):
        raise ValueError(f"{shapes_layer.name!r} holds no line: draw one first")
    line = np.asarray(shapes_layer.data[-1], float)[:, -2:]
    world = line * np.asarray(shapes_layer.scale)[-2:] + np.asarray(shapes_layer.translate)[-2:]
    return (world - np.asarray(image_layer.translate)[-2:]) / np.asarray(image_layer.scale)[-2:]


def apply_spacing(viewer, image_layer, spacing_mm: float, source: str) -> list:
    """Set ``spacing_mm`` on ``image_layer`` and its Points layers (see the module
    docstring); returns the layers changed."""
    from napari.layers import Points

    from napari_apn._layers import MM_UNITS, ImageRef

    spacing = (float(spacing_mm), float(spacing_mm))
    name = ImageRef.of_image_layer(image_layer).name
    changed = [image_layer]
    for layer in viewer.layers:
        if isinstance(layer, Points) and layer.metadata.get("apn_image") in (
            name,
            image_layer.name,
        ):
            changed.append(layer)
    for layer in changed:
        layer.scale = spacing
        layer.units = MM_UNITS
        layer.metadata = {
            **layer.metadata,
            "apn_spacing_mm": list(spacing),
            CALIBRATION_KEY: {"spacing_mm": spacing[0], "source": source},
        }
    return changed


def calibration_text(viewer, layer) -> str:
    """What the spacing of ``layer`` (a landmarks or image layer) rests on, for display
    beside its measurements: ``1.321 mm/px — ruler on the film (±0.0015)``."""
    from napari_apn._layers import layer_spacing_mm

    spacing = layer_spacing_mm(layer)
    if spacing is None:
        return "no pixel spacing: nothing in mm (Calibrate spacing, or open with napari-apn)"
    value = f"{spacing[0]:.4g} mm/px" if spacing[0] == spacing[1] else f"{spacing} mm/px"
    return f"{value} — {source_of(viewer, layer)}"


def source_of(viewer, layer) -> str:
    """Where ``layer``'s spacing came from: its calibration, else its image's file."""
    meta = layer.metadata or {}
    if CALIBRATION_KEY in meta:
        return str(meta[CALIBRATION_KEY].get("source", "calibrated"))
    image = _image_of(viewer, layer)
    meta = image.metadata if image is not None else meta
    if CALIBRATION_KEY in meta:
        return str(meta[CALIBRATION_KEY].get("source", "calibrated"))
    summary = meta.get("apn") or {}
    source = summary.get("spacing_source")
    if source in ("ruler", "ball"):
        detail = summary.get("calibration")
        return f"{source} on the film" + (f" ({detail})" if detail else "")
    return str(source or "the layer's scale")


def _image_of(viewer, layer):
    from napari.layers import Image

    if isinstance(layer, Image):
        return layer
    name = (layer.metadata or {}).get("apn_image")
    for candidate in viewer.layers:
        if isinstance(candidate, Image) and name in (
            (candidate.metadata or {}).get("apn_image"),
            candidate.name,
        ):
            return candidate
    return None


def with_object_spacing(image):
    """``(image, estimate)``: an :class:`~napari_apn._detect.ImageInput` without a
    spacing, given the spacing of a ruler on the film (in mm, translate scaled with it),
    and the estimate; unchanged with ``None`` when it has one or no ruler is found. Core
    call, safe in a worker thread; :func:`apply_spacing` then sets it on the layers."""
    if image.ref.spacing is not None:
        return image, None
    found = estimate_layer_spacing(image.data)
    if found is None:
        return image, None
    from napari_apn._layers import MM_UNITS

    spacing = found.spacing
    translate = tuple(t * s for t, s in zip(image.translate[-2:], spacing, strict=True))
    ref = replace(image.ref, spacing=spacing)
    return replace(image, scale=spacing, translate=translate, units=MM_UNITS, ref=ref), found


def describe_estimate(found) -> str:
    """The calibration source shown to the user: ``ruler on the film (5 mm ticks …)``."""
    return f"{found.object} on the film ({found.detail}; ±{found.uncertainty_mm:.2g} mm/px)"


def calibrate_from_line(viewer, image_layer, shapes_layer, length_mm: float) -> float:
    """Set the spacing of ``image_layer`` (and its landmarks) from the last line drawn in
    ``shapes_layer`` over an object ``length_mm`` long; returns the spacing (mm/px).
    ``ValueError`` (shown to the user) for no line, a line too short or a bad length."""
    line = line_in_pixels(shapes_layer, image_layer)
    spacing = spacing_from_line(line, length_mm)
    pixels = float(np.linalg.norm(line[-1] - line[0]))
    source = f"manual: a line over {length_mm:g} mm ({pixels:.1f} px)"
    apply_spacing(viewer, image_layer, spacing, source)
    shapes_layer.scale, shapes_layer.units = image_layer.scale, image_layer.units
    shapes_layer.data = [line]  # in the image's pixels now: it stays on the object
    return spacing


def calibrate_from_object(viewer, image_layer, choice: str = "auto"):
    """Set the spacing of ``image_layer`` (and its landmarks) from the ruler or ball on
    the film; returns the estimate. ``ValueError``: "no calibration object found"."""
    from apn_core.calibration_object.resolve import NOT_FOUND

    found = estimate_layer_spacing(image_layer.data, choice)
    if found is None:
        raise ValueError(f"{NOT_FOUND} ({choice}); draw a line over a known length instead")
    apply_spacing(viewer, image_layer, found.spacing_mm, describe_estimate(found))
    return found
