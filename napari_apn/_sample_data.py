"""Sample data: a synthetic long-leg radiograph with its ground-truth landmarks."""

from __future__ import annotations

SAMPLE_SEED = 2024
SAMPLE_INDEX = 0
SAMPLE_SPACING_MM = 0.5
SAMPLE_NAME = "synthetic long leg"


def sample_long_leg() -> list[tuple]:
    """Image layer (mm scale) and a Points layer ``"ground truth"`` with six labelled points."""
    from pathlib import Path

    from apn_core.io import Radiograph
    from apn_core.synth import SynthConfig, generate_case
    from napari_apn._layers import ImageRef, image_layer_data, points_layer_data
    from napari_apn._points import watch_current_viewer

    config = SynthConfig(spacing_mm=SAMPLE_SPACING_MM, restricted_fraction=0.0)
    case = generate_case(SAMPLE_SEED, SAMPLE_INDEX, config)
    spacing = (case.spacing, case.spacing)
    radiograph = Radiograph(
        path=Path(SAMPLE_NAME),
        pixels=case.bone_bright.astype("float32"),
        spacing=spacing,
        spacing_source="synthetic",
        photometric="MONOCHROME2",
        stored_dtype="uint16",
        format="synthetic",
        meta={"phantom": case.meta},
    )
    truth = points_layer_data(
        case.labels(SAMPLE_NAME),
        "ground truth",
        ImageRef(SAMPLE_NAME, None, spacing),
        symbol="cross",
    )
    watch_current_viewer()
    return [image_layer_data(radiograph, SAMPLE_NAME, image=SAMPLE_NAME), truth]
