"""landmarks.csv, Slicer markups and napari Points CSV: parsing, writing, round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apn_core.annotations import (
    ImageLabels,
    read_landmarks_csv,
    read_markups,
    read_napari_points,
    write_landmarks_csv,
    write_markups,
    write_napari_points,
)
from apn_core.errors import AnnotationError
from apn_core.landmarks import DEFAULT_LANDMARKS as LM
from apn_core.problems import Report


def _labels() -> ImageLabels:
    """Four present (one occluded), one absent, one not annotated."""
    xy = np.array(
        [
            [10.25, 20.5],
            [30.0, 21.0],
            [12.0, 100.125],
            [np.nan, np.nan],
            [14.5, 180.0],
            [np.nan, np.nan],
        ]
    )
    annotated = np.array([True, True, True, True, True, False])
    occluded = np.array([False, True, False, False, False, False])
    return ImageLabels("sub/a.dcm", xy, annotated, occluded, spacing=(0.15, 0.14))


def test_states_of_a_landmark():
    lab = _labels()
    assert lab.present.tolist() == [True, True, True, False, True, False]
    assert lab.absent.tolist() == [False, False, False, True, False, False]
    d = lab.as_dict(LM)
    assert d["knee_left"] is None and "ankle_left" not in d


def test_landmarks_csv_round_trip(tmp_path):
    lab = _labels()
    write_landmarks_csv(tmp_path / "landmarks.csv", [lab], LM)
    text = (tmp_path / "landmarks.csv").read_text()
    assert text.splitlines()[0] == "image,landmark,x,y,spacing_mm,occluded"
    assert "sub/a.dcm,knee_left,,,0.15 0.14,0" in text
    assert "ankle_left" not in text
    back = read_landmarks_csv(tmp_path / "landmarks.csv", LM)["sub/a.dcm"]
    np.testing.assert_allclose(back.xy, lab.xy, atol=1e-3)
    assert back.annotated.tolist() == lab.annotated.tolist()
    assert back.occluded.tolist() == lab.occluded.tolist()
    assert back.spacing == (0.15, 0.14)


def test_landmarks_csv_collects_every_bad_row(tmp_path):
    (tmp_path / "landmarks.csv").write_text(
        "image,landmark,x,y\n"
        "a.png,femur_right,1,2\n"
        "a.png,femur_right,1,2\n"  # duplicate
        "a.png,hip_centre,1,2\n"  # unknown
        "a.png,knee_left,abc,2\n"  # not a number
        "a.png,knee_right,nan,2\n"  # not finite
        "a.png,ankle_left,5,\n"  # half empty
        ",ankle_right,5,5\n"  # no image
    )
    report = Report()
    labels = read_landmarks_csv(tmp_path / "landmarks.csv", LM, report)
    kinds = [p.kind for p in report.problems]
    assert kinds == [
        "duplicate-row",
        "unknown-landmark",
        "bad-coordinate",
        "bad-coordinate",
        "bad-coordinate",
        "malformed-row",
    ]
    assert next(p.where for p in report.problems) == "landmarks.csv:3"
    assert labels["a.png"].present.tolist() == [True, False, False, False, False, False]
    with pytest.raises(AnnotationError, match=r"landmarks\.csv.*duplicate"):
        read_landmarks_csv(tmp_path / "landmarks.csv", LM)


def test_landmarks_csv_missing_column(tmp_path):
    (tmp_path / "landmarks.csv").write_text("image,name,x,y\n")
    with pytest.raises(AnnotationError, match="missing column"):
        read_landmarks_csv(tmp_path / "landmarks.csv", LM)


def test_slicer_markups_round_trip_in_mm(tmp_path):
    lab = _labels()
    spacing = (0.15, 0.14)
    write_markups(tmp_path / "a.mrk.json", lab, LM, spacing)
    doc = json.loads((tmp_path / "a.mrk.json").read_text())
    points = {p["label"]: p for p in doc["markups"][0]["controlPoints"]}
    assert points["femur_right"]["position"] == pytest.approx([10.25 * 0.14, 20.5 * 0.15, 0.0])
    assert points["knee_left"]["positionStatus"] == "undefined"
    assert "ankle_left" not in points
    back = read_markups(tmp_path / "a.mrk.json", LM, spacing, image="sub/a.dcm")
    np.testing.assert_allclose(back.xy, lab.xy, atol=1e-9)
    assert back.annotated.tolist() == lab.annotated.tolist()


def test_slicer_ras_and_micrometres(tmp_path):
    doc = {
        "@schema": "x",
        "markups": [
            {
                "type": "Fiducial",
                "coordinateSystem": "RAS",
                "coordinateUnits": "um",
                "controlPoints": [{"label": "knee_left", "position": [-1500.0, -3000.0, 0.0]}],
            }
        ],
    }
    (tmp_path / "r.mrk.json").write_text(json.dumps(doc))
    lab = read_markups(tmp_path / "r.mrk.json", LM, (0.5, 0.25))
    assert lab.xy[LM.index("knee_left")] == pytest.approx([6.0, 6.0])


def test_slicer_markups_validate_against_official_schema(tmp_path, shared_dir):
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = next((shared_dir / "formats").glob("slicer-markups-schema*.json"))
    schema = json.loads(schema_path.read_text())
    write_markups(tmp_path / "a.mrk.json", _labels(), LM, (0.15, 0.14), confidence=np.full(6, 0.9))
    jsonschema.validate(json.loads((tmp_path / "a.mrk.json").read_text()), schema)


def test_slicer_bad_files(tmp_path):
    (tmp_path / "bad.mrk.json").write_text("{not json")
    with pytest.raises(
        AnnotationError, match=r"cannot read the Slicer markups file \(invalid JSON"
    ):
        read_markups(tmp_path / "bad.mrk.json", LM, (1, 1))
    doc = {
        "markups": [
            {"type": "Fiducial", "controlPoints": [{"label": "elbow", "position": [0, 0, 0]}]}
        ]
    }
    (tmp_path / "u.mrk.json").write_text(json.dumps(doc))
    with pytest.raises(AnnotationError, match="'elbow'"):
        read_markups(tmp_path / "u.mrk.json", LM, (1, 1))


def test_napari_points_round_trip(tmp_path):
    lab = _labels()
    write_napari_points(tmp_path / "a.csv", lab, LM)
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert lines[0] == "index,axis-0,axis-1,label"
    assert lines[1] == "0,20.500,10.250,femur_right"  # axis-0 = row = y
    back = read_napari_points(tmp_path / "a.csv", LM)
    np.testing.assert_allclose(back.xy[back.present], lab.xy[lab.present], atol=1e-3)
    # A Points layer cannot say "not in the image": absent landmarks come back not annotated.
    assert back.annotated.tolist() == lab.present.tolist()


def test_napari_points_written_by_napari_itself_are_read(tmp_path):
    # The exact header napari's built-in points writer produces, with an extra property.
    (tmp_path / "p.csv").write_text(
        "index,axis-0,axis-1,label,confidence\n0,5.0,7.0,ankle_left,0.9\n"
    )
    lab = read_napari_points(tmp_path / "p.csv", LM)
    assert lab.xy[LM.index("ankle_left")].tolist() == [7.0, 5.0]
    (tmp_path / "q.csv").write_text("index,axis-0,axis-1\n0,5.0,7.0\n")
    with pytest.raises(AnnotationError, match="'label' column"):
        read_napari_points(tmp_path / "q.csv", LM)


def test_landmarks_csv_cells_are_parsed_strictly(tmp_path):
    (tmp_path / "landmarks.csv").write_text(
        "image,landmark,x,y,spacing_mm,occluded\n"
        "a.png,femur_right,1_000,2,,\n"  # Python's float() accepts 1_000; a data file must not
        "a.png,femur_left,0x10,2,,\n"
        "a.png,knee_right,inf,2,,\n"
        "a.png,knee_left,1,2,,maybe\n"
        "a.png,ankle_right,1,2,,Yes\n"
        "a.png,ankle_left,1,2,,FALSE\n"
        "b.png,femur_right,1,2,0.5,\n"
        "b.png,femur_left,1,2,0.50 0.5,no\n"  # the same spacing written differently: fine
        "b.png,knee_right,1,2,0.25,\n"  # a second spacing for one image: an error
        "b.png,knee_left,1,2,,0\n"
        "c.png,femur_right,1,2,,1,surplus\n"  # more cells than the header
    )
    report = Report()
    labels = read_landmarks_csv(tmp_path / "landmarks.csv", LM, report)
    found = [(p.kind, p.where) for p in report.problems]
    assert found == [
        ("bad-coordinate", "landmarks.csv:2"),
        ("bad-coordinate", "landmarks.csv:3"),
        ("bad-coordinate", "landmarks.csv:4"),
        ("bad-value", "landmarks.csv:5"),
        ("spacing-conflict", "landmarks.csv:10"),
        ("malformed-row", "landmarks.csv:12"),
    ]
    assert "x='1_000', y='2' are not plain finite numbers" in report.problems[0].message
    assert "occluded='maybe'; use 0/1, true/false or yes/no" in report.problems[3].message
    assert "spacing_mm 0.25 for b.png differs from 0.5 on line 8" in report.problems[4].message
    assert labels["a.png"].occluded.tolist() == [False] * 4 + [True, False]
    assert labels["b.png"].spacing == (0.5, 0.5)
    assert labels["b.png"].present.tolist() == [True, True, False, True, False, False]


def test_quoted_cells_and_multiline_records_keep_their_line_numbers(tmp_path):
    (tmp_path / "landmarks.csv").write_text(
        'image,landmark,x,y,note\n"a,b.png",femur_right,1,2,"two\nlines"\na.png,elbow,1,2,\n'
    )
    report = Report()
    labels = read_landmarks_csv(tmp_path / "landmarks.csv", LM, report)
    assert list(labels) == ["a,b.png", "a.png"]
    assert [(p.kind, p.where) for p in report.problems] == [("unknown-landmark", "landmarks.csv:4")]


def test_replace_image_rows_leaves_every_other_row_byte_for_byte(tmp_path):
    from apn_core.annotations import replace_image_rows

    # Unusual but valid: BOM, CRLF, another column order, an extra column with quotes,
    # doubled quotes and an embedded line break, ./ paths, blank line, no final newline.
    original = (
        "\ufefflandmark,image,y,x,note\r\n"
        'femur_right,b.png,1.5,2.25,"said ""hi"", twice"\r\n'
        "femur_right,./a.png,10,20,old\r\n"
        'knee_left,"sub/c, d.png",3,4,"line one\r\nline two"\r\n'
        "\r\n"
        "knee_left,a.png,30,40,\r\n"
        "ankle_left,b.png,,,absent"
    )
    path = tmp_path / "landmarks.csv"
    path.write_bytes(original.encode("utf-8"))
    xy = np.full((6, 2), np.nan)
    xy[0] = (7.0, 8.0)
    annotated = np.array([True, False, False, True, False, False])  # knee_left absent
    occluded = np.array([True, False, False, False, False, False])
    new = ImageLabels("a.png", xy, annotated, occluded, spacing=(0.5, 0.25))
    replace_image_rows(path, "./a.png", new, LM)

    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.split("\r\n")[0] == "landmark,image,y,x,note,spacing_mm,occluded"
    body = text.split("\r\n", 1)[1]
    # the image's rows are edited in place: image cell as written, extra cells kept
    expected = (
        'femur_right,b.png,1.5,2.25,"said ""hi"", twice"\r\n'
        "femur_right,./a.png,8.000,7.000,old,0.5 0.25,1\r\n"
        'knee_left,"sub/c, d.png",3,4,"line one\r\nline two"\r\n'
        "\r\n"
        "knee_left,a.png,,,,0.5 0.25\r\n"
        "ankle_left,b.png,,,absent"
    )
    assert body == expected
    back = read_landmarks_csv(path, LM)
    assert back["a.png"].as_dict(LM) == {"femur_right": (7.0, 8.0), "knee_left": None}
    assert back["a.png"].spacing == (0.5, 0.25) and back["a.png"].occluded[0]
    assert back["b.png"].as_dict(LM) == {"femur_right": (2.25, 1.5), "ankle_left": None}
    assert back["sub/c, d.png"].spacing is None  # the short old rows read as empty

    # Nothing annotated for a new image: not a byte changes (not even the last line end).
    before = path.read_bytes()
    replace_image_rows(path, "new.png", ImageLabels.empty("new.png", 6), LM)
    assert path.read_bytes() == before
    # A new image goes at the end; the last row gains the file's line ending first.
    one = ImageLabels("new.png", [[1, 2]] + [[np.nan, np.nan]] * 5, [True] + [False] * 5)
    replace_image_rows(path, "new.png", one, LM)
    assert path.read_bytes() == before + b"\r\nfemur_right,new.png,2.000,1.000,,,0\r\n"
    with pytest.raises(AnnotationError, match="leaves the labelled folder"):
        replace_image_rows(path, "../x.png", new, LM)


def test_replace_image_rows_creates_the_file(tmp_path):
    from apn_core.annotations import replace_image_rows

    lab = ImageLabels("x", [[1, 2]] + [[np.nan, np.nan]] * 5, [True] + [False] * 5)
    replace_image_rows(tmp_path / "landmarks.csv", "sub/x.dcm", lab, LM)
    assert (tmp_path / "landmarks.csv").read_text() == (
        "image,landmark,x,y\nsub/x.dcm,femur_right,1.000,2.000\n"
    )
