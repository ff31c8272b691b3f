"""Layer data for napari from core records: radiographs and landmark Points.

napari is (row, col); the core is (x=col, y=row). Layers carry ``scale`` = pixel spacing
in mm, so napari's coordinates, rulers and measurements are millimetres.
"""

from __future__ import annotations

import numpy as np

from apn_core.annotations import ImageLabels
from apn_core.io import Radiograph
from apn_core.landmarks import LandmarkSet
from apn_core.palette import hex_colour


def layer_spacing_mm(layer) -> tuple[float, float] | None:
    """The layer's pixel spacing in mm (row, col) from its ``scale`` and ``units``, or
    ``None`` when the scale is not a length: napari's default unit is the pixel (an array
    added in the console, a PNG opened by another reader), and treating that scale as mm
    would turn every measurement into a silent wrong answer."""
    try:
        factors = [float((1 * unit).to("mm").magnitude) for unit in layer.units[-2:]]
    except Exception:  # pint's DimensionalityError (pixel → mm), or a layer without units
        return None
    return tuple(float(s) * f for s, f in zip(layer.scale[-2:], factors, strict=True))


def image_layer_data(radiograph: Radiograph, name: str | None = None) -> tuple:
    """``(data, kwargs, "image")`` with the spacing as ``scale`` in mm (unknown: scale 1 in pixel units)."""
    spacing = radiograph.spacing or (1.0, 1.0)
    lo, hi = np.percentile(radiograph.pixels[::8, ::8], [0.5, 99.5])
    kwargs = {
        "name": name or radiograph.path.stem,
        "scale": spacing,
        "units": ("mm", "mm") if radiograph.spacing else ("pixel", "pixel"),
        "colormap": "gray",
        "contrast_limits": (float(lo), float(hi) if hi > lo else float(lo) + 1.0),
        "metadata": {"apn": radiograph.summary()},
    }
    return radiograph.pixels, kwargs, "image"


def points_layer_data(
    labels: ImageLabels,
    landmarks: LandmarkSet,
    spacing: tuple[float, float],
    name: str,
    source: str = "",
    image: str = "",
) -> tuple:
    """Present landmarks as ``(data, kwargs, "points")`` with ``label`` features and text."""
    keep = labels.present.nonzero()[0]
    data = labels.xy[keep][:, ::-1].copy()  # (x, y) → (row, col)
    names = [landmarks.names[i] for i in keep]
    colours = [hex_colour(i) for i in keep]
    kwargs = {
        "name": name,
        "scale": spacing,
        "units": ("mm", "mm"),
        "features": {"label": names},
        "face_color": colours,
        "border_color": "white",
        "size": 12.0 / min(spacing),
        "symbol": "cross",
        "text": {"string": "{label}", "color": "white", "anchor": "upper_left", "size": 9},
        "metadata": {
            "apn_landmarks": list(landmarks.names),
            "apn_source": source,
            "apn_image": image or labels.image,
        },
    }
    return data, kwargs, "points"
