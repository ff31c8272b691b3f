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
    with pytest.raises(AnnotationError, match="not a Slicer markups file"):
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
