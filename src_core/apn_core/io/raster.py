"""PNG and JPEG radiographs via imageio. These formats carry no physical spacing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apn_core.io.radiograph import Radiograph, to_grayscale


def read_raster(path: Path) -> Radiograph:
    """Read a PNG/JPEG (8 or 16 bit, gray or gray-as-RGB); spacing stays unknown."""
    import imageio.v3 as iio

    stored = np.asarray(iio.imread(path))
    if stored.ndim == 3:
        stored = to_grayscale(stored, path)
    return Radiograph(
        path=path,
        pixels=stored.astype(np.float32),
        spacing=None,
        spacing_source="none (PNG/JPEG carry no spacing)",
        photometric="MONOCHROME2",
        stored_dtype=str(stored.dtype),
        format=path.suffix.lstrip(".").upper().replace("JPG", "JPEG"),
    )
