"""The one save path for ``landmarks.csv`` (issue 18.1): only the stated rows change, and
cells a spreadsheet would execute are neutralised in every CSV apn writes."""

from __future__ import annotations

import numpy as np
import pytest

from apn_core.annotations import (
    ABSENT,
    NOT_ANNOTATED,
    UNCHANGED,
    ImageEdit,
    ImageLabels,
    read_landmarks_csv,
    replace_image_rows,
    update_landmarks_csv,
)
from apn_core.errors import AnnotationError
from apn_core.landmarks import DEFAULT_LANDMARKS as LM
from apn_core.problems import Report
from apn_core.utils.csv_cells import csv_text, neutralise, read_rows, restore


def _read(path):
    """The labels of ``path``; rows of landmarks outside the set reported, not raised."""
    return read_landmarks_csv(path, LM, Report())


def test_an_edit_changes_only_the_stated_landmarks_of_its_image(labelled_folder):
    edit = ImageEdit(
        "a.png",
        {
            "femur_right": (50.0, 21.0),  # moved
            "knee_right": (41.0, 110.0),  # where it was ("41", "110"): byte for byte
            "ankle_left": NOT_ANNOTATED,  # deleted point: its row goes
            "knee_left": ABSENT,  # new: annotated as not in the image
            "ankle_right": UNCHANGED,
        },
    )
    update_landmarks_csv(labelled_folder.csv, edit, LM)
    labelled_folder.assert_only_image_changed("a.png", untouched=("knee_right",))
    rows = labelled_folder.rows_of("a.png")
    assert rows["femur_right"] == 'a.png,femur_right,50.000,21.000,0.5,0,"checked, twice",AB\r\n'
    assert "ankle_left" not in rows
    assert rows["knee_left"] == "a.png,knee_left,,,0.5,0,,\r\n"  # the image's spacing
    labels = _read(labelled_folder.csv)["a.png"]
    assert labels.as_dict(LM) == {
        "femur_right": (50.0, 21.0),
        "knee_right": (41.0, 110.0),
        "knee_left": None,
    }
    assert labels.occluded[LM.index("knee_right")] and labels.spacing == (0.5, 0.5)


def test_saving_an_images_labels_keeps_extra_cells_and_unknown_landmarks(labelled_folder):
    """Annotate's Save / R / N (replace_image_rows) cleared the image's extra-column values
    even on untouched landmarks and deleted its rows for landmarks outside the set."""
    labels = _read(labelled_folder.csv)["a.png"]
    labels.xy[LM.index("femur_right")] = (44.0, 22.0)
    replace_image_rows(labelled_folder.csv, "a.png", labels, LM)
    labelled_folder.assert_only_image_changed("a.png", untouched=("knee_right", "ankle_left"))
    assert labelled_folder.rows_of("a.png")["femur_right"].endswith(
        ',44.000,22.000,0.5,0,"checked, twice",AB\r\n'
    )


def test_saving_unchanged_labels_changes_no_byte(labelled_folder):
    for image, labels in _read(labelled_folder.csv).items():
        replace_image_rows(labelled_folder.csv, image, labels, LM)
    assert labelled_folder.csv.read_bytes() == labelled_folder.original


def test_many_images_at_once_change_only_theirs(labelled_folder):
    edits = [
        ImageEdit("b.png", {"femur_right": (1.0, 2.0)}, spacing=(0.3, 0.3)),
        ImageEdit("new/e.png", {"knee_left": (3.0, 4.0), "femur_left": ABSENT}),
    ]
    update_landmarks_csv(labelled_folder.csv, edits, LM)
    records = labelled_folder.records()
    assert records[1:5] == labelled_folder.records(labelled_folder.original)[1:5]  # a.png
    b = labelled_folder.rows_of("b.png")
    # the spacing belongs to the image: every row of it, the unknown landmark's included
    assert b["patella_right"] == "b.png,patella_right,31,95,0.3,0,,CD\r\n"
    assert b["femur_right"] == 'b.png,femur_right,1.000,2.000,0.3,0,"said ""hi""",CD\r\n'
    assert records[-2:] == [  # the new image at the end, in the landmark set's order
        "new/e.png,femur_left,,,,0,,\r\n",
        "new/e.png,knee_left,3.000,4.000,,0,,\r\n",
    ]
    assert "sub/c d.png,knee_left" in "".join(records) and "=d.png,femur_left" in "".join(records)


def test_a_stated_landmark_replaces_its_duplicates_and_spacing_none_clears(tmp_path):
    path = tmp_path / "landmarks.csv"
    path.write_text("image,landmark,x,y,spacing_mm\na,knee_left,1,2,0.5\na,knee_left,3,4,0.5\n")
    update_landmarks_csv(path, ImageEdit("a", {"knee_left": (5, 6)}, spacing=None))
    assert path.read_text() == "image,landmark,x,y,spacing_mm\na,knee_left,5.000,6.000,\n"


def test_bad_edits_are_refused_and_nothing_is_written(labelled_folder):
    for edit, error in (
        (ImageEdit("a.png", {"femur_right": (np.nan, 1.0)}), ValueError),
        (ImageEdit("/etc/a.png", {"femur_right": (1.0, 1.0)}), AnnotationError),
        (ImageEdit("a.png", {" femur_right": (1.0, 1.0)}), ValueError),
        (ImageEdit("a.png", {}, spacing=(0.0, 1.0)), ValueError),
        ([ImageEdit("a.png"), ImageEdit("./a.png")], ValueError),
    ):
        with pytest.raises(error):
            update_landmarks_csv(labelled_folder.csv, edit, LM)
    assert labelled_folder.csv.read_bytes() == labelled_folder.original
    (labelled_folder.folder / "other.csv").write_text("name,x\n")
    with pytest.raises(AnnotationError, match="missing column"):
        update_landmarks_csv(labelled_folder.folder / "other.csv", ImageEdit("a.png"))


def test_from_labels_states_every_landmark_of_the_set():
    xy = np.full((6, 2), np.nan)
    xy[0] = (1, 2)
    occluded = np.array([True] + [False] * 5)
    labels = ImageLabels("a", xy, [True, True] + [False] * 4, occluded, spacing=(0.5, 0.5))
    edit = ImageEdit.from_labels(labels, LM)
    assert edit.points["femur_right"] == (1.0, 2.0) and edit.points["femur_left"] is ABSENT
    assert edit.points["ankle_left"] is NOT_ANNOTATED and edit.occluded == {"femur_right": True}
    keep = ImageEdit.from_labels(ImageLabels.empty("a", 6), LM, unannotated=UNCHANGED)
    assert set(keep.points.values()) == {UNCHANGED} and keep.spacing is UNCHANGED


# --- formula injection -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+cmd", "'+cmd"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=a.png", "''=a.png"),  # a file really named so round-trips
        ("-3.5", "-3.5"),  # plain numbers stay numbers
        ("+2", "+2"),
        ("1e-3", "1e-3"),
        ("'-3.5", "'-3.5"),
        ("a.png", "a.png"),
        ("'quoted", "'quoted"),
    ],
)
def test_cells_are_neutralised_and_restored(value, cell):
    assert neutralise(value) == cell
    assert restore(cell) == value
    assert read_rows(csv_text([[value, -3.5]])) == [[value, "-3.5"]]


def test_a_formula_like_file_name_round_trips_through_landmarks_csv(tmp_path):
    path = tmp_path / "landmarks.csv"
    update_landmarks_csv(path, ImageEdit("=cmd|x.png", {"knee_left": (-3.5, 2.0)}), LM)
    assert path.read_text() == "image,landmark,x,y\n'=cmd|x.png,knee_left,-3.500,2.000\n"
    labels = read_landmarks_csv(path, LM)
    assert list(labels) == ["=cmd|x.png"] and labels["=cmd|x.png"].xy[3].tolist() == [-3.5, 2.0]
    update_landmarks_csv(path, ImageEdit("=cmd|x.png", {"knee_left": (1.0, 2.0)}), LM)
    assert path.read_text().count("=cmd") == 1  # the neutralised row was found and edited


def test_every_csv_writer_goes_through_the_neutralising_helper():
    """One helper writes CSV cells: a new ``csv.writer`` elsewhere would skip it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for folder in ("src_core", "benchmarks", "scripts")
        for path in (root / folder).rglob("*.py")
        if "csv.writer(" in path.read_text() or "csv.DictWriter(" in path.read_text()
    ]
    assert offenders == []


def test_a_save_that_changes_nothing_does_not_touch_the_file(labelled_folder, tmp_path):
    import os

    os.utime(labelled_folder.csv, ns=(1, 1))
    update_landmarks_csv(labelled_folder.csv, ImageEdit("a.png", {"knee_right": (41, 110)}))
    assert os.stat(labelled_folder.csv).st_mtime_ns == 1
    update_landmarks_csv(tmp_path / "new.csv", ImageEdit("a.png", {"knee_left": NOT_ANNOTATED}))
    assert not (tmp_path / "new.csv").exists()  # no labelled folder made of nothing
