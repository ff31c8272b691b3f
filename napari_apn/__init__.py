"""napari plugin of napari-apn: thin widgets, reader and sample data over ``apn_core``.

Nothing heavy is imported here, so napari starts fast; torch and pydicom load when a
command runs.
"""

from apn_core import __version__

__all__ = ["__version__", "detect"]


def detect(viewer, image, model: str = "default", show_heatmaps: bool = True):
    """Detect landmarks on an image layer (napari console API); see :mod:`napari_apn._detect`."""
    from napari_apn._detect import detect as _detect

    return _detect(viewer, image, model, show_heatmaps)
