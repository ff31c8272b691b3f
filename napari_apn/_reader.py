"""npe2 reader: radiographs open with ``scale`` = pixel spacing in mm.

The file is read once, inside :func:`get_reader`; if it is not a radiograph we can use,
the reader returns ``None`` so napari can try another plugin.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def get_reader(path):
    """Return a reader function for a single radiograph path, or ``None``."""
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    from apn_core.errors import ApnError
    from apn_core.io import is_image_file, read_radiograph

    if not is_image_file(path):
        return None
    try:
        radiograph = read_radiograph(path)
    except ApnError as exc:
        log.info("napari-apn does not open %s: %s", path, exc)
        return None

    def reader(_path):
        from napari_apn._layers import image_layer_data

        return [image_layer_data(radiograph)]

    return reader
