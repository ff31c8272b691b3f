"""Reading and writing radiographs with their real pixel spacing.

:func:`read_radiograph` is the one entry point: it returns a :class:`Radiograph` whose
``pixels`` are a 2-D float32 array with bone bright, whatever the file's photometric
interpretation, plus the spacing in mm/px (row, col) and where that spacing came from.
"""

from apn_core.io.radiograph import IMAGE_SUFFIXES, Radiograph, is_image_file, read_radiograph
from apn_core.io.writers import write_dicom, write_tiff

__all__ = [
    "IMAGE_SUFFIXES",
    "Radiograph",
    "is_image_file",
    "read_radiograph",
    "write_dicom",
    "write_tiff",
]
