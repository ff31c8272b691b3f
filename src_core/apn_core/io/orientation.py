"""The TIFF/EXIF ``Orientation`` tag: how a stored image is turned for display.

A camera or scanner may store the pixels as the sensor read them and record in tag 274
(TIFF ``Orientation``, the same tag in a JPEG's or PNG's EXIF) how to turn them upright.
Every viewer applies it; ignoring it gave apn a sideways leg, every landmark flagged, and
never a word about why. So the readers apply it: :attr:`Radiograph.pixels
<apn_core.io.record.Radiograph.pixels>` are **the image as displayed**, and landmark
coordinates (``landmarks.csv``, predictions, napari) refer to that image. A file without
the tag (every DICOM) is displayed as stored. The spacing follows the axes: a turn by 90°
swaps the row and column spacing.

=====  ===========================================  ===============================
 tag    stored row 0 / column 0 are the image's       turned for display by
=====  ===========================================  ===============================
  1     top / left (normal)                          nothing
  2     top / right                                  a left-right flip
  3     bottom / right                               180°
  4     bottom / left                                a top-bottom flip
  5     left / top                                   a transpose
  6     right / top                                  90° clockwise
  7     right / bottom                               a flip about the anti-diagonal
  8     left / bottom                                90° anticlockwise
=====  ===========================================  ===============================
"""

from __future__ import annotations

import numpy as np

ORIENTATION_TAG = 274
TURNS = {
    2: "flipped left-right",
    3: "turned 180°",
    4: "flipped top-bottom",
    5: "transposed",
    6: "turned 90° clockwise",
    7: "flipped about the anti-diagonal",
    8: "turned 90° anticlockwise",
}
TRANSPOSING = frozenset({5, 6, 7, 8})


def display_pixels(stored: np.ndarray, code: int) -> np.ndarray:
    """``stored`` (2-D, or rows × cols × samples) turned as ``Orientation = code`` says;
    codes 1 and unknown values leave it as it is (a view, no copy)."""
    if code == 2:
        return stored[:, ::-1]
    if code == 3:
        return stored[::-1, ::-1]
    if code == 4:
        return stored[::-1]
    if code == 5:
        return stored.swapaxes(0, 1)
    if code == 6:
        return np.rot90(stored, -1)
    if code == 7:
        return stored[::-1, ::-1].swapaxes(0, 1)
    if code == 8:
        return np.rot90(stored, 1)
    return stored


def orientation_code(value: object) -> int:
    """The tag's value as 1–8, or 1 when it is absent or not a valid code."""
    try:
        code = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1
    return code if code in TURNS else 1


def describe(code: int, source: str) -> str:
    """What was done, for ``Radiograph.meta["orientation"]`` (``apn info`` shows it)."""
    return f"{source} Orientation {code}: the stored image is {TURNS[code]} for display"
