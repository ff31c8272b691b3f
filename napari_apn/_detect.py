"""Detect landmarks on an image layer: the function the Detect widget runs in a worker
and what the napari console calls::

    from napari_apn import detect
    detect(viewer, "synthetic long leg")            # bundled model; or model="runs/x"

Results go to a Points layer ``"<image> landmarks"`` (features ``label`` and
``confidence``; low-confidence points drawn hollow) and a heatmap Image layer
``"<image> heatmaps"`` (max over landmarks, additive blending), both aligned with the
image layer's scale/translate. Running again updates these layers in place.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

LOW_CONFIDENCE = 0.5


def _predictor(model: str):
    """The loaded model, reloaded when its weights file changes (a run retrained or resumed
    in this session must not be served from a stale cache)."""
    from apn_core.inference.model_store import resolve

    return _load(model, resolve(model).weights.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(model: str, _stamp: int):
    from apn_core.inference import Predictor

    return Predictor.load(model)


def predict_layer(data: np.ndarray, spacing: tuple[float, float] | None, model: str = "default"):
    """Run the model on a 2-D array of ``spacing`` mm/px (``None``: positions and confidence
    only, no mm outputs); core call, safe in a worker thread (no viewer access)."""
    if data.ndim != 2:
        raise ValueError(
            f"the image layer must be 2-D (got shape {data.shape}); pick a single radiograph"
        )
    return _predictor(str(model)).predict(np.asarray(data, dtype=np.float32), spacing)


def result_layers(prediction, image_name: str, scale, translate, units) -> list[tuple]:
    """Layer data tuples (points, heatmaps) for a prediction on an image layer, in that
    layer's world frame (its scale, translate and units)."""
    from apn_core.palette import hex_colour

    scale = np.asarray(scale, float)[-2:]
    translate = np.asarray(translate, float)[-2:]
    keep = np.flatnonzero(prediction.present)
    confident = prediction.confidence[keep] >= LOW_CONFIDENCE
    colours = [hex_colour(i) for i in keep]
    points = (
        prediction.xy[keep][:, ::-1].copy(),
        {
            "name": f"{image_name} landmarks",
            "scale": scale,
            "translate": translate,
            "units": units,
            "features": {
                "label": [prediction.names[i] for i in keep],
                "confidence": prediction.confidence[keep].astype(float),
            },
            "face_color": [
                c if ok else "transparent" for c, ok in zip(colours, confident, strict=True)
            ],
            "border_color": colours,
            "border_width": 0.3,
            "size": 12.0 / float(min(scale)),
            "text": {
                "string": "{label} {confidence:.2f}",
                "color": "white",
                "anchor": "upper_left",
                "size": 9,
            },
            "metadata": {
                "apn_image": image_name,
                "apn_spacing_mm": prediction.spacing,
                "apn_absent": [
                    n for n, p in zip(prediction.names, prediction.present, strict=True) if not p
                ],
            },
        },
        "points",
    )
    hm_scale = np.asarray(prediction.heatmap_scale) * scale
    hm_translate = np.asarray(prediction.heatmap_translate) * scale + translate
    heatmaps = (
        prediction.heatmaps.clip(0, None).max(axis=0),
        {
            "name": f"{image_name} heatmaps",
            "scale": hm_scale,
            "translate": hm_translate,
            "units": units,
            "colormap": "inferno",
            "interpolation2d": "linear",
            "blending": "additive",
            "opacity": 0.6,
            "contrast_limits": (0.0, 1.0),
        },
        "image",
    )
    return [points, heatmaps]


def show_results(viewer, layer_tuples: list[tuple], show_heatmaps: bool = True) -> list:
    """Add the layers, or update same-named ones in place (no piling up of copies)."""
    out = []
    for data, kwargs, kind in layer_tuples:
        name = kwargs["name"]
        if name in viewer.layers:
            layer = viewer.layers[name]
            layer.data = data
            for key in ("scale", "translate", "units", "features", "face_color", "border_color",
                        "metadata"):  # fmt: skip
                if key in kwargs:
                    setattr(layer, key, kwargs[key])
        else:
            layer = (
                viewer.add_points(data, **kwargs)
                if kind == "points"
                else viewer.add_image(data, **kwargs)
            )
        if kind == "image":
            layer.visible = show_heatmaps
        out.append(layer)
    return out


def detect(viewer, image, model: str = "default", show_heatmaps: bool = True):
    """Detect landmarks on ``image`` (a layer or its name); returns the Points layer."""
    from napari_apn._layers import layer_spacing_mm

    layer = viewer.layers[image] if isinstance(image, str) else image
    prediction = predict_layer(layer.data, layer_spacing_mm(layer), model)
    tuples = result_layers(prediction, layer.name, layer.scale, layer.translate, layer.units)
    return show_results(viewer, tuples, show_heatmaps)[0]
