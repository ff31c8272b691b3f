"""Saving into a damaged or odd ``landmarks.csv`` (the one save path, issue 18): what can
be edited is edited and every other byte kept; what cannot be read is refused with one
clear error and left as it was."""

from __future__ import annotations

import os

import pytest

from apn_core.annotations import ImageEdit, update_landmarks_csv
from apn_core.errors import AnnotationError

EDIT = ImageEdit("a.png", {"knee_left": (5.0, 6.0)})


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (  # an unclosed quote in another row: that row is kept as it is
            'image,landmark,x,y\na.png,knee_left,1,2\n"b.png,knee_right,3,4\n',
            'image,landmark,x,y\na.png,knee_left,5.000,6.000\n"b.png,knee_right,3,4\n',
        ),
        (  # a row too short to name its landmark is not this landmark's row
            "image,landmark,x,y\na.png\n",
            "image,landmark,x,y\na.png\na.png,knee_left,5.000,6.000\n",
        ),
        (  # a cell that is not a number is replaced, the rest of the row kept
            "image,landmark,x,y,note\na.png,knee_left,1,2\x00,keep\n",
            "image,landmark,x,y,note\na.png,knee_left,5.000,6.000,keep\n",
        ),
        (  # a row naming an absolute path is never this image's
            "image,landmark,x,y\n/a.png,knee_left,1,2\n",
            "image,landmark,x,y\n/a.png,knee_left,1,2\na.png,knee_left,5.000,6.000\n",
        ),
    ],
)
def test_odd_rows_are_kept_and_the_stated_one_edited(tmp_path, before, after):
    path = tmp_path / "landmarks.csv"
    path.write_text(before)
    update_landmarks_csv(path, EDIT)
    assert path.read_text() == after


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: p.write_bytes("image,landmark,x,y\nä.png,knee_left,1,2\n".encode("latin-1")),
            "not UTF-8 text",
        ),
        (lambda p: os.mkfifo(p), "not a regular file"),
        (lambda p: p.mkdir(), "a folder, not a file"),
        (lambda p: p.write_text("name;x;y\na;1;2\n"), "missing column(s) image, landmark, x, y"),
    ],
)
def test_what_cannot_be_read_is_refused_and_left_alone(tmp_path, make, message):
    path = tmp_path / "landmarks.csv"
    make(path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(AnnotationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        update_landmarks_csv(path, EDIT)
    assert (path.read_bytes() if path.is_file() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landmarks.csv"]  # no temporary left
