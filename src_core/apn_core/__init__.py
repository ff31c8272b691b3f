"""napari-free core of napari-apn: radiograph I/O, labelled folders, synthetic data, models, CLI.

Importing this package is cheap: heavy dependencies (torch, pydicom) are imported by the
modules that need them, so ``import apn_core`` in the napari console costs nothing.
"""

from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet

__version__ = "0.1.0"

__all__ = ["DEFAULT_LANDMARKS", "LandmarkSet", "Prediction", "Predictor", "__version__"]


def __getattr__(name: str):
    """``from apn_core import Predictor`` without importing torch at ``import apn_core``."""
    if name in ("Predictor", "Prediction"):
        from apn_core import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'apn_core' has no attribute {name!r}")
