"""napari plugin of napari-apn: thin widgets, reader and sample data over ``apn_core``.

Nothing heavy is imported here, so napari starts fast; torch and pydicom load when a
command runs. Console API::

    from napari_apn import detect, use_as_default_reader
    detect(viewer, "synthetic long leg")     # landmarks on an image layer
    use_as_default_reader()                  # open .dcm/.tif with napari-apn from now on
"""

from apn_core import __version__

__all__ = ["READER_PATTERNS", "__version__", "detect", "use_as_default_reader"]

READER_PATTERNS = ("*.dcm", "*.DCM", "*.dicom", "*.tif", "*.tiff", "*.TIF", "*.TIFF")


def detect(viewer, image, model: str = "default", show_heatmaps: bool = True):
    """Detect landmarks on an image layer (napari console API); see :mod:`napari_apn._detect`."""
    from napari_apn._detect import detect as _detect

    return _detect(viewer, image, model, show_heatmaps)


def use_as_default_reader(patterns=READER_PATTERNS, settings=None) -> dict[str, str]:
    """Make napari-apn napari's preferred reader for DICOM and TIFF files (napari otherwise
    asks which reader to use, and its builtin one cannot read these radiographs).

    This is what napari's *Preferences → Plugins → File extension readers* sets; it is
    saved in napari's settings and undone there. Returns the new pattern → reader map.
    """
    if settings is None:
        from napari.settings import get_settings

        settings = get_settings()
    mapping = {**settings.plugins.extension2reader, **dict.fromkeys(patterns, "napari-apn")}
    settings.plugins.extension2reader = mapping
    return mapping
