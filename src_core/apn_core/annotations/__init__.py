"""Landmark annotations: the in-memory record and the three file formats we read/write.

- ``landmarks.csv`` (one per labelled folder): ``image,landmark,x,y[,spacing_mm][,occluded]``;
  image paths are relative to the folder (:mod:`apn_core.annotations.paths`); every save
  into one goes through :func:`update_landmarks_csv` (:mod:`apn_core.annotations.csv_edit`)
- Slicer markups ``<stem>.mrk.json`` (positions in mm, LPS)
- napari Points CSV ``<stem>.csv`` (``axis-0`` = row, ``axis-1`` = col, ``label``)
"""

from apn_core.annotations.csv_edit import (
    ABSENT,
    NOT_ANNOTATED,
    UNCHANGED,
    ImageEdit,
    Mark,
    replace_image_rows,
    update_landmarks_csv,
)
from apn_core.annotations.labels import ImageLabels
from apn_core.annotations.landmarks_csv import read_landmarks_csv, write_landmarks_csv
from apn_core.annotations.napari_points import read_napari_points, write_napari_points
from apn_core.annotations.paths import checked_image_name, normalise_image_path
from apn_core.annotations.slicer import read_markups, write_markups

__all__ = [
    "ABSENT",
    "NOT_ANNOTATED",
    "UNCHANGED",
    "ImageEdit",
    "ImageLabels",
    "Mark",
    "checked_image_name",
    "normalise_image_path",
    "read_landmarks_csv",
    "read_markups",
    "read_napari_points",
    "replace_image_rows",
    "update_landmarks_csv",
    "write_landmarks_csv",
    "write_markups",
    "write_napari_points",
]
