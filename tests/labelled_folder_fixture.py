"""A labelled folder that every save path must leave intact but for the saved image's rows.

Issue 18's "done when": saving through any path (``apn_core.annotations.update_landmarks_csv``,
the napari writer, Save corrected points, Annotate, ``apn import``) onto a labelled folder
with 2+ images, extra columns, unknown landmarks and CRLF changes only the saved image's
rows, byte for byte elsewhere. Core and plugin tests use it through the ``labelled_folder``
fixture (``tests/conftest.py``)::

    def test_x(labelled_folder):
        ...save a.png through some path into labelled_folder.csv...
        labelled_folder.assert_only_image_changed("a.png", untouched=["knee_right"])

The folder: four small bone-bright PNGs (``a.png``, ``b.png``, ``sub/c d.png``,
``=d.png``) and a ``landmarks.csv`` with a UTF-8 BOM, CRLF line ends, columns in an
unusual order with two extra columns (``note``, ``reader``), a quoted note with a comma,
doubled quotes and a line break, ``./`` and formula-like paths written raw (as a
spreadsheet user would), a blank line, rows for a landmark outside the set
(``patella_right``), an absent mark, an occlusion flag and a per-image ``spacing_mm``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CSV_TEXT = (
    "\ufeffimage,landmark,x,y,spacing_mm,occluded,note,reader\r\n"
    'a.png,femur_right,40.5,20.25,0.5,0,"checked, twice",AB\r\n'
    "a.png,knee_right,41,110,0.5,1,metal,AB\r\n"
    "a.png,patella_right,42,100,0.5,,,CD\r\n"
    "./a.png,ankle_left,,,0.5,0,amputated,AB\r\n"
    'b.png,femur_right,30,40,0.25,0,"said ""hi""",CD\r\n'
    "b.png,patella_right,31,95,0.25,0,,CD\r\n"
    "\r\n"
    'sub/c d.png,knee_left,12,60,,0,"line one\r\nline two",EF\r\n'
    "=d.png,femur_left,5,6,,0,=1+1,EF\r\n"
    "b.png,ankle_right,33,190,0.25,0,,CD\r\n"
)
IMAGES = ("a.png", "b.png", "sub/c d.png", "=d.png")
SHAPE = (240, 120)  # rows, cols of every image


@dataclass
class LabelledFolderCase:
    """The folder, its ``landmarks.csv`` and the bytes it held before the test saved."""

    folder: Path
    csv: Path
    original: bytes
    images: tuple[str, ...] = field(default=IMAGES)

    def records(self, data: bytes | None = None) -> list[str]:
        """The CSV's records (BOM removed), each with its line end."""
        from apn_core.annotations.csv_records import split_records

        raw = self.csv.read_bytes() if data is None else data
        return split_records(raw.decode("utf-8-sig"))

    def rows_of(self, image: str, data: bytes | None = None) -> dict[str, str]:
        """``{landmark: raw record}`` of one image (normalised paths compared)."""
        out = {}
        for record in self.records(data)[1:]:
            key = _image_of(record)
            if key == image:
                out[_cells(record)[1]] = record
        return out

    def assert_only_image_changed(self, image: str, untouched: tuple[str, ...] = ()) -> None:
        """Everything but ``image``'s rows is as before, byte for byte: the BOM, the header
        (columns may only be appended), every other record in its place with its CRLF.
        Among ``image``'s rows, those of unknown landmarks (``patella_right``) and of the
        landmarks named in ``untouched`` are unchanged byte for byte (extra cells kept)."""
        new = self.csv.read_bytes()
        assert new.startswith(b"\xef\xbb\xbf"), "the BOM was dropped"
        old_records, new_records = self.records(self.original), self.records(new)
        old_header = old_records[0].removesuffix("\r\n")
        assert new_records[0].startswith(old_header) and new_records[0].endswith("\r\n"), (
            f"header changed: {new_records[0]!r}"
        )
        others_old = [r for r in old_records[1:] if _image_of(r) != image]
        others_new = [r for r in new_records[1:] if _image_of(r) != image]
        assert others_new == others_old, "rows of other images changed"
        for record in new_records:
            assert record.endswith("\r\n"), f"line end changed: {record!r}"
        before, after = self.rows_of(image, self.original), self.rows_of(image, new)
        for landmark in ("patella_right", *untouched):
            if landmark in before:
                assert after.get(landmark) == before[landmark], (
                    f"{image} / {landmark}: {before[landmark]!r} became {after.get(landmark)!r}"
                )


def make_labelled_folder(root: Path) -> LabelledFolderCase:
    """Write the folder under ``root`` (images and ``landmarks.csv``); see the module."""
    import imageio.v3 as iio

    root.mkdir(parents=True, exist_ok=True)
    rows, cols = SHAPE
    pixels = (np.add.outer(np.arange(rows), np.arange(cols)) % 200 + 20).astype(np.uint8)
    pixels[:, cols // 2 - 8 : cols // 2 + 8] = 250  # a bright "bone"
    for name in IMAGES:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(path, pixels, extension=".png")
    csv_path = root / "landmarks.csv"
    data = CSV_TEXT.encode("utf-8")
    csv_path.write_bytes(data)
    return LabelledFolderCase(root, csv_path, data)


def _cells(record: str) -> list[str]:
    import csv
    import io

    return next(csv.reader(io.StringIO(record, newline="")), [])


def _image_of(record: str) -> str | None:
    from apn_core.annotations.paths import normalise_image_path

    cells = _cells(record)
    try:
        return normalise_image_path(cells[0]) if cells else None
    except ValueError:
        return None
