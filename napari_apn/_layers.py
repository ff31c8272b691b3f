"""Layer data for napari from core records, and the rules that tie a layer to its image.

napari is (row, col); the core is (x=col, y=row). A layer's ``scale`` with length
``units`` (mm, µm) is its pixel spacing, so napari's world coordinates, rulers and
measurements are millimetres. A layer in ``pixel`` units has no spacing: it is never
measured in mm (a scale of 1 is not "1 mm per pixel" unless its units say so).

Every layer this plugin makes says which image it belongs to, in ``metadata``:

- ``apn_image``: how a landmarks table names the image (a path relative to the labelled
  folder it came from, else its file name; the sample's name for the sample);
- ``apn_image_path``: the image file's absolute path, when the image is a file;
- ``apn_spacing_mm``: the spacing (row, col) in mm, or ``None``.

Writers name rows after these, never after the layer's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels
from apn_core.errors import FileProblem
from apn_core.io import Radiograph
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet
from apn_core.palette import hex_colour

PIXEL_UNITS = ("pixel", "pixel")
MM_UNITS = ("mm", "mm")
LOW_CONFIDENCE = 0.5  # predictions below this are drawn as rings
POINT_SIZE_MM, POINT_SIZE_PX = 12.0, 24.0  # point size with / without a spacing


def _mm_per_unit(unit) -> float | None:
    """Millimetres in one ``unit`` (a pint unit or its name); ``None`` if not a length."""
    import pint

    try:
        return float(pint.get_application_registry().Quantity(1, str(unit)).to("mm").magnitude)
    except Exception:  # pint's DimensionalityError (pixel → mm), an unknown unit name
        return None


def spacing_mm(scale, units) -> tuple[float, float] | None:
    """Pixel spacing (row, col) in mm from a layer's ``scale`` and ``units``, or ``None``
    when the units are not lengths: napari's default unit is the pixel (an array added in
    the console, a PNG opened by another reader), and taking that scale as mm would turn
    every measurement into a silent wrong answer."""
    if units is None or scale is None:
        return None
    factors = [_mm_per_unit(u) for u in list(units)[-2:]]
    if len(factors) != 2 or None in factors:
        return None
    return tuple(float(s) * f for s, f in zip(list(scale)[-2:], factors, strict=True))


def layer_spacing_mm(layer) -> tuple[float, float] | None:
    """:func:`spacing_mm` of a layer."""
    return spacing_mm(layer.scale, getattr(layer, "units", None))


@dataclass(frozen=True)
class ImageRef:
    """The image a layer belongs to (see the module docstring)."""

    name: str | None = None
    path: str | None = None
    spacing: tuple[float, float] | None = None

    def metadata(self) -> dict:
        return {
            "apn_image": self.name,
            "apn_image_path": self.path,
            "apn_spacing_mm": None if self.spacing is None else list(self.spacing),
        }

    @classmethod
    def from_metadata(cls, meta: dict | None) -> ImageRef:
        meta = meta or {}
        spacing = meta.get("apn_spacing_mm")
        return cls(
            meta.get("apn_image"),
            meta.get("apn_image_path"),
            None if spacing is None else (float(spacing[0]), float(spacing[1])),
        )

    @classmethod
    def of_image_layer(cls, layer) -> ImageRef:
        """From an image layer: this plugin's metadata, else the file napari opened it from
        (another reader); the spacing always from its scale and units."""
        ref = cls.from_metadata(layer.metadata)
        path = ref.path
        source = getattr(getattr(layer, "source", None), "path", None)
        if path is None and source and Path(source).is_file():
            path = str(Path(source).resolve())
        name = ref.name or (Path(path).name if path else None)
        return cls(name, path, layer_spacing_mm(layer))

    def name_in(self, folder: str | Path) -> str:
        """The image's row name in ``folder/landmarks.csv``: its path relative to ``folder``.

        Raises :class:`FileProblem` when the image is a file outside ``folder`` (its rows
        would name an image the folder does not hold) or when the layer does not say
        which image it belongs to."""
        folder = Path(folder)
        if self.path is not None:
            image = Path(self.path).resolve()
            try:
                return image.relative_to(folder.resolve()).as_posix()
            except ValueError:
                raise FileProblem(
                    folder,
                    f"the image {image} is not inside this folder; save its landmarks to the "
                    "labelled folder that holds it (or a folder above it)",
                ) from None
        if self.name:
            return self.name
        raise FileProblem(
            folder,
            "the layer does not say which image it belongs to (no 'apn_image' in its "
            "metadata): open the radiograph with napari-apn and run Detect landmarks on it",
        )


def frame(spacing: tuple[float, float] | None) -> dict:
    """``scale``/``units`` of a layer in image pixels: mm with a spacing, else pixels."""
    if spacing is None:
        return {"scale": (1.0, 1.0), "units": PIXEL_UNITS}
    return {"scale": tuple(float(s) for s in spacing), "units": MM_UNITS}


def image_layer_data(
    radiograph: Radiograph, name: str | None = None, image: str | None = None
) -> tuple:
    """``(data, kwargs, "image")``: the spacing as ``scale`` in mm (none: pixel units)."""
    lo, hi = np.percentile(radiograph.pixels[::8, ::8], [0.5, 99.5])
    path = radiograph.path
    ref = ImageRef(
        image or path.name,
        str(path.resolve()) if path.is_file() else None,
        radiograph.spacing,
    )
    kwargs = {
        "name": name or path.stem,
        **frame(radiograph.spacing),
        "colormap": "gray",
        "contrast_limits": (float(lo), float(hi) if hi > lo else float(lo) + 1.0),
        "metadata": {"apn": radiograph.summary(), **ref.metadata()},
    }
    return radiograph.pixels, kwargs, "image"


def label_colours(landmarks: LandmarkSet) -> dict[str, str]:
    """Landmark name → colour (apn_core.palette), the ``label`` feature's colour map."""
    return {name: hex_colour(i) for i, name in enumerate(landmarks.names)}


REASON_CHARS = 24  # of a review reason drawn beside its point; the feature keeps all of it


def _short(reason: str) -> str:
    """The start of a review reason for the canvas (plausibility reasons run to ~400
    chars): a text that stays near its point, the whole reason being in the widget."""
    first = reason.split(";")[0].strip()
    return first if len(first) <= REASON_CHARS else first[: REASON_CHARS - 1].rstrip() + "…"


def text_offset(size: float, towards: str = "lower_right") -> list[float]:
    """A text's ``translation`` (data px, (row, col)): half a point size away from its
    point towards ``lower_right`` (landmarks) or ``upper_left`` (second candidates), so a
    label neither covers its own marker nor the label of a candidate next to it."""
    sign = 1.0 if towards == "lower_right" else -1.0
    return [sign * 0.6 * size, sign * 0.6 * size]


def points_layer_data(
    labels: ImageLabels,
    name: str,
    ref: ImageRef,
    *,
    landmarks: LandmarkSet = DEFAULT_LANDMARKS,
    confidence: np.ndarray | None = None,
    layer_frame: dict | None = None,
    source: str = "",
    symbol: str = "disc",
    review: list[str] | None = None,
) -> tuple:
    """The one builder of landmark Points layers: ``(data, kwargs, "points")``.

    Present landmarks become points ((row, col) image pixels) with a ``label`` feature;
    the face colour follows that feature through a fixed colour map, so a point a user
    adds or relabels takes its landmark's colour. ``feature_defaults`` give a new point
    the first landmark not yet placed (:mod:`napari_apn._points` keeps it so). With
    ``confidence`` (``(K,)``, predictions) points below :data:`LOW_CONFIDENCE` are rings;
    with ``review`` (K reasons, "" = fine) a flagged landmark is a ring and its text says why.
    ``layer_frame`` (scale, translate, units) defaults to :func:`frame` of the spacing.
    """
    keep = np.flatnonzero(labels.present)
    names = [landmarks.names[i] for i in keep]
    features: dict = {"label": names}
    defaults: dict = {
        "label": next(
            (n for n in landmarks.names if n not in names),
            names[0] if names else landmarks.names[0],
        )
    }
    symbols: str | list[str] = symbol
    if confidence is not None:
        features["confidence"] = np.asarray(confidence, float)[keep]
        defaults["confidence"] = np.nan
        symbols = ["ring" if c < LOW_CONFIDENCE else symbol for c in features["confidence"]]
    text = "{label}"
    if review is not None:
        reasons = [review[i] for i in keep]
        features["review"] = [f" ⚠ {_short(r)}" if r else "" for r in reasons]
        features["review_reason"] = reasons  # the whole reason (the text shows its start)
        defaults["review"] = defaults["review_reason"] = ""
        base = symbols if isinstance(symbols, list) else [symbols] * len(keep)
        symbols = ["ring" if r else b for r, b in zip(reasons, base, strict=True)]
        text = "{label}{review}"
    colours = label_colours(landmarks)
    lf = layer_frame or frame(ref.spacing)
    spacing = spacing_mm(lf["scale"], lf["units"])
    size = POINT_SIZE_MM / min(spacing) if spacing else POINT_SIZE_PX  # data pixels
    absent = [landmarks.names[i] for i in np.flatnonzero(labels.absent)]
    kwargs = {
        "name": name,
        **lf,
        "features": features,
        "feature_defaults": defaults,
        "face_color": "label",
        "face_color_cycle": colours,
        "border_color": "black",
        "border_width": 0.1,
        "symbol": symbols,
        "size": size,
        "text": {
            "string": text,
            "color": "white",
            "anchor": "upper_left",
            "translation": text_offset(size, "lower_right"),
            "size": 9,
        },
        "metadata": {
            "apn_landmarks": list(landmarks.names),
            "apn_absent": absent,  # annotated "not in this image": saved back as such
            "apn_source": source,
            **ref.metadata(),
        },
    }
    return labels.xy[keep][:, ::-1].copy(), kwargs, "points"


def labels_from_points(
    data, labels, image: str, where: str | Path, landmarks: LandmarkSet = DEFAULT_LANDMARKS
) -> ImageLabels:
    """:class:`ImageLabels` from Points ``data`` ((row, col) pixels) and their ``label``
    values; refuses unknown and duplicate labels (which point would be the landmark?)."""
    data = np.asarray(data, float).reshape(-1, 2)
    labels = [str(v) for v in labels]
    if len(labels) != len(data):
        raise FileProblem(where, "every point needs a 'label' feature naming its landmark")
    out = ImageLabels.empty(image, len(landmarks))
    for (row, col), name in zip(data, labels, strict=True):
        if name not in landmarks:
            raise FileProblem(where, f"label {name!r} is not one of {', '.join(landmarks.names)}")
        i = landmarks.index(name)
        if out.annotated[i]:
            raise FileProblem(
                where, f"landmark {name!r} has {labels.count(name)} points; delete all but one"
            )
        out.xy[i] = (col, row)
        out.annotated[i] = True
    return out


def layer_labels(layer) -> ImageLabels:
    """The landmarks of a Points layer: its points, and the landmarks its metadata marks
    absent (``apn_absent``, annotated "not in this image") that have no point (image named
    by :meth:`ImageRef.name_in` callers)."""
    return labels_of(layer.data, layer.features, layer.metadata, layer.name)


def labels_of(data, features, metadata, where) -> ImageLabels:
    """:func:`layer_labels` from a layer's parts (what an npe2 writer is given)."""
    ref = ImageRef.from_metadata(metadata)
    names = list(features["label"]) if features is not None and "label" in features else []
    labels = labels_from_points(data, names, ref.name or "", where)
    for name in (metadata or {}).get("apn_absent") or []:
        if name in DEFAULT_LANDMARKS and not labels.present[DEFAULT_LANDMARKS.index(name)]:
            labels.annotated[DEFAULT_LANDMARKS.index(name)] = True
    return labels


def add_or_update(viewer, layer_data: list[tuple]) -> list:
    """Add layers from ``(data, kwargs, type)`` tuples, or update the same-named layer of
    the same type in place (what napari does with a widget's LayerDataTuples).

    Works on the viewer napari hands a plugin widget, a ``PublicOnlyProxy`` whose layers
    are proxies too: types are checked with ``isinstance`` (a proxy passes it; its
    ``type()`` is the proxy's), never by the class name of ``type(layer)``."""
    import napari.layers
    from napari.layers import Layer

    out = []
    for data, kwargs, kind in layer_data:
        name = kwargs["name"]
        layer = viewer.layers[name] if name in viewer.layers else None  # noqa: SIM401 - LayerList has no .get
        if layer is not None and isinstance(layer, getattr(napari.layers, kind.capitalize())):
            layer.data = data
            for key, value in kwargs.items():
                if key in ("scale", "translate") and _same(getattr(layer, key), value):
                    continue  # each set refreshes the layer (~15 ms); re-runs keep the frame
                setattr(layer, key, value)
        else:
            layer = viewer.add_layer(Layer.create(data, kwargs, kind))
        out.append(layer)
    return out


def _same(current, new) -> bool:
    """Equal numeric vectors (a layer's scale or translate against a new value)."""
    a, b = np.asarray(current, float), np.asarray(new, float)
    return a.shape == b.shape and bool(np.array_equal(a, b))
