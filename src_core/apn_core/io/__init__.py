"""Reading and writing radiographs with their real pixel spacing.

:func:`read_radiograph` is the one entry point: it returns a :class:`Radiograph` whose
``pixels`` are a 2-D float32 array with bone bright, whatever the file's photometric
interpretation, plus the spacing in mm/px (row, col) and where that spacing came from.
Untrusted files are checked before they are decoded (:mod:`apn_core.io.limits`).

Modules: ``record`` (the :class:`Radiograph` record), ``radiograph`` (the dispatcher),
``dicom`` / ``tiff`` / ``raster`` (format readers; they import ``record``, not the
dispatcher), ``limits`` (size, truncation and finiteness checks), ``codestreams`` and
``dicom_streams`` (what a decoder will allocate, read before it runs), ``orientation`` (the
TIFF/EXIF Orientation tag), ``contrast`` (blank-image check), ``text`` (file strings made
safe to print), ``writers``.
"""

from apn_core.io.limits import ImageLimits
from apn_core.io.radiograph import IMAGE_SUFFIXES, is_image_file, read_radiograph
from apn_core.io.record import Radiograph
from apn_core.io.writers import write_dicom, write_tiff

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageLimits",
    "Radiograph",
    "is_image_file",
    "read_radiograph",
    "write_dicom",
    "write_tiff",
]
