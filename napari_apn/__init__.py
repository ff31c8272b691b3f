"""napari plugin of napari-apn: thin widgets, reader and sample data over ``apn_core``.

Nothing heavy is imported here, so napari starts fast; torch and pydicom load when a
command runs.
"""

from apn_core import __version__

__all__ = ["__version__"]
