"""Detect landmarks on an image layer: the function the Detect widget runs in a worker
and what the napari console calls::

    from napari_apn import detect
    detect(viewer, "synthetic long leg")            # bundled model; or model="runs/x"

Results are LayerDataTuples: a heatmap Image layer ``"<image> heatmaps"`` (max over
landmarks, additive blending) and, above it, a Points layer ``"<image> landmarks"``
(features ``label`` and ``confidence``; points below 0.5 confidence drawn as rings) that
knows its image (the image layer's file and spacing, see :mod:`napari_apn._layers`), both
in the image layer's frame (scale, translate, units). Running again updates these layers
in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_apn._models import predictor


@dataclass(frozen=True)
class ImageInput:
    """What a worker needs from an image layer (read on the UI thread, used off it)."""

    data: np.ndarray
    name: str
    scale: tuple
    translate: tuple
    units: tuple
    ref: object  # napari_apn._layers.ImageRef

    @classmethod
    def of(cls, layer) -> ImageInput:
        from napari_apn._layers import ImageRef

        if layer.ndim != 2 or getattr(layer, "rgb", False):
            raise ValueError(
                f"the image layer {layer.name!r} must be a single 2-D grayscale radiograph "
                f"(its data have shape {layer.data.shape})"
            )
        return cls(
            np.asarray(layer.data),
            layer.name,
            tuple(layer.scale),
            tuple(layer.translate),
            tuple(layer.units),
            ImageRef.of_image_layer(layer),
        )


def predict_layer(image: ImageInput, model: str = "default"):
    """Run the model on the image (no spacing: positions and confidence only, no mm);
    core call, safe in a worker thread (no viewer access). The pixels go in as they are
    (a full-size uint16 radiograph is reduced without a float copy), on one torch thread
    per idle core (:mod:`apn_core.inference.threads`: with a core busy elsewhere, torch's
    default pool took 1–5 s instead of 0.12 s)."""
    from apn_core.inference.threads import inference_threads, torch_threads

    loaded = predictor(str(model))
    with torch_threads(inference_threads()):
        return loaded.predict(np.asarray(image.data), image.ref.spacing)


def result_layers(prediction, image: ImageInput, show_heatmaps: bool = True) -> list[tuple]:
    """LayerDataTuples (heatmaps, points: added in this order, the points are drawn above
    the heatmaps) for a prediction, in the image layer's frame."""
    from apn_core.annotations import ImageLabels
    from apn_core.landmarks import LandmarkSet
    from napari_apn._layers import points_layer_data

    scale = np.asarray(image.scale, float)[-2:]
    translate = np.asarray(image.translate, float)[-2:]
    layer_frame = {"scale": scale, "translate": translate, "units": image.units}
    labels = ImageLabels(image.ref.name or "", prediction.xy, np.ones(len(prediction.xy), bool))
    data, kwargs, kind = points_layer_data(
        labels,
        f"{image.name} landmarks",
        image.ref,
        landmarks=LandmarkSet(tuple(prediction.names)),
        confidence=prediction.confidence,
        layer_frame=layer_frame,
        review=prediction.review_reason or None,
    )
    kwargs["metadata"]["apn_absent"] = [
        n for n, p in zip(prediction.names, prediction.present, strict=True) if not p
    ]
    kwargs["metadata"]["apn_review"] = prediction.review
    heatmaps = (
        prediction.heatmaps.clip(0, None).max(axis=0),
        {
            "name": f"{image.name} heatmaps",
            "scale": np.asarray(prediction.heatmap_scale) * scale,
            "translate": np.asarray(prediction.heatmap_translate) * scale + translate,
            "units": image.units,
            "colormap": "inferno",
            "interpolation2d": "linear",
            "blending": "additive",
            "opacity": 0.6,
            "contrast_limits": (0.0, 1.0),
            "visible": show_heatmaps,
        },
        "image",
    )
    per_landmark = (
        prediction.heatmaps.clip(0, None),
        {
            "name": f"{image.name} heatmap per landmark",
            "scale": np.r_[1.0, np.asarray(prediction.heatmap_scale) * scale],
            "translate": np.r_[0.0, np.asarray(prediction.heatmap_translate) * scale + translate],
            "units": ("pixel", *image.units),
            "axis_labels": ("landmark", "y", "x"),
            "colormap": "inferno",
            "interpolation2d": "linear",
            "blending": "additive",
            "opacity": 0.6,
            "contrast_limits": (0.0, 1.0),
            "visible": False,
            "metadata": {"apn_landmarks": list(prediction.names)},
        },
        "image",
    )
    # the landmarks last: drawn on top, and what callers take as the result layer
    return [
        heatmaps,
        per_landmark,
        second_candidates(prediction, image, layer_frame),
        (data, kwargs, kind),
    ]


def second_candidates(prediction, image: ImageInput, layer_frame: dict) -> tuple:
    """Candidates for the landmarks that need review: a flagged point's second-best heatmap
    peak ("2nd": where the model hesitated — move the point there if it is right), and a
    landmark reported absent but probably there, at its own best peak ("absent?": add it
    there if it is right)."""
    second = prediction.second_xy
    ok = np.zeros(len(prediction.names), bool) if second is None else np.isfinite(second).all(1)
    rows = np.zeros((0, 2)) if second is None else second[ok][:, ::-1]
    names = [n for n, keep in zip(prediction.names, ok, strict=True) if keep]
    kinds = ["2nd" if prediction.present[i] else "absent?" for i in np.flatnonzero(ok)]
    from napari_apn._layers import text_offset

    size = (prediction.spacing and 10.0 / min(prediction.spacing)) or 20.0
    return (
        rows,
        {
            "name": f"{image.name} second candidates",
            **layer_frame,
            "features": {"label": names, "kind": kinds},
            "symbol": "cross",
            "face_color": "yellow",
            "border_color": "black",
            "size": size,
            "text": {
                "string": "{kind} {label}",
                "color": "yellow",
                "anchor": "lower_right",  # opposite the landmarks' texts (upper_left)
                "translation": text_offset(size, "upper_left"),
                "size": 8,
            },
            "metadata": {"apn_image": image.ref.name, "apn_second_candidates": True},
        },
        "points",
    )


def detect(viewer, image, model: str = "default", show_heatmaps: bool = True):
    """Detect landmarks on ``image`` (a layer or its name); returns the Points layer."""
    from napari_apn._layers import add_or_update
    from napari_apn._points import watch

    layer = viewer.layers[image] if isinstance(image, str) else image
    watch(viewer)
    source = ImageInput.of(layer)
    return add_or_update(
        viewer, result_layers(predict_layer(source, model), source, show_heatmaps)
    )[-1]
