"""Landmarks from bone outlines: each definition measured on outlines of known geometry,
the LabelMe reader, the import command, and (where ../shared has them) the real OAI films."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from apn_core.annotations.labelme import read_labelme
from apn_core.errors import AnnotationError
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.outlines import derive_leg
from apn_core.outlines.circle import candidates, refit
from apn_core.outlines.derive import HALF_ANKLE_JOINT_MM, femoral_head, femur_side
from apn_core.outlines.labelme_labels import labels_from_labelme

HEAD = np.array([70.0, 60.0])
RADIUS = 20.0
NOTCH_X, SPINES_X = 36.0, 37.0
CONDYLES_Y, PLATEAU_Y = 500.0, 510.0
SPACING = 1.32


def femur_outline(mirror_width: float | None = None) -> np.ndarray:
    """A right femur (head to the image-right of the shaft): head circle (70, 60) r 20 over
    270°, neck, shaft, flat condyles at y 500 with a symmetric notch centred at x 36."""
    arc = [
        HEAD + RADIUS * np.array([np.cos(t), np.sin(t)]) for t in np.radians(np.arange(200, 471, 5))
    ]
    pts = np.array(
        [(20, 50), *arc, (45, 130), (45, 430), (62, 470), (58, 500), (42, 500), (36, 490),
         (30, 500), (14, 500), (10, 470), (25, 430), (25, 130), (15, 80)],
        dtype=float,
    )  # fmt: skip
    if mirror_width is not None:
        pts[:, 0] = mirror_width - pts[:, 0]
    return pts


def tibia_outline(mirror_width: float | None = None) -> np.ndarray:
    """A right tibia: plateau at y 510 with a symmetric eminence at x 37; plafond at y 850 from
    x 18 to the medial malleolus' inner corner at x 46, the malleolus reaching y 868."""
    pts = np.array(
        [(12, 510), (31, 510), (37, 503), (43, 510), (60, 510), (50, 560), (52, 830), (56, 845),
         (54, 868), (47, 866), (46, 850), (18, 850), (22, 830), (20, 560)],
        dtype=float,
    )  # fmt: skip
    if mirror_width is not None:
        pts[:, 0] = mirror_width - pts[:, 0]
    return pts


def test_head_circle_is_recovered_from_its_arc_among_neck_and_shaft():
    circle = femoral_head(femur_outline(), "right")
    assert np.hypot(*(np.array(circle.centre) - HEAD)) < 0.25
    assert circle.radius == pytest.approx(RADIUS, abs=0.25)
    assert circle.coverage_deg >= 250


def test_circle_refit_is_exact_on_a_noisy_arc():
    rng = np.random.default_rng(0)
    t = np.radians(np.linspace(10, 200, 200))
    pts = np.column_stack([5 + 30 * np.cos(t), -7 + 30 * np.sin(t)]) + rng.normal(0, 0.05, (200, 2))
    centres, radii = candidates(pts, (20, 40))
    circle = refit(pts, centres[0], radii[0], tolerance=1.0)
    assert circle.centre == pytest.approx((5, -7), abs=0.05)
    assert circle.radius == pytest.approx(30, abs=0.05)


def test_knee_and_ankle_follow_the_written_definitions():
    leg = derive_leg(femur_outline(), tibia_outline(), SPACING)
    assert leg.side == "right" and not leg.notes
    assert leg.details["notch"][0] == pytest.approx(NOTCH_X, abs=0.05)
    assert leg.details["spines"][0] == pytest.approx(SPINES_X, abs=0.05)
    # ankle: midpoint of lateral border (18) and malleolar corner (46), half a joint space down
    assert leg.ankle[0] == pytest.approx((18 + 46) / 2, abs=0.5)
    assert leg.ankle[1] == pytest.approx(850 + HALF_ANKLE_JOINT_MM / SPACING, abs=0.05)
    # knee: the interspinous point (the eminence's centroid), on the joint line halfway
    # between the condyle line (500) and the plateau line (510); the notch is not used
    assert leg.knee[0] == pytest.approx(SPINES_X, abs=0.05)
    assert leg.knee[1] == pytest.approx((CONDYLES_Y + PLATEAU_Y) / 2, abs=0.05)


def test_a_mirrored_leg_is_a_left_leg_with_mirrored_landmarks():
    w = 127.0
    right = derive_leg(femur_outline(), tibia_outline(), SPACING)
    left = derive_leg(femur_outline(w), tibia_outline(w), SPACING)
    assert femur_side(femur_outline(w)) == "left" and left.side == "left"
    for a, b in ((right.hip, left.hip), (right.knee, left.knee), (right.ankle, left.ankle)):
        assert b[0] == pytest.approx(w - a[0], abs=0.3)
        assert b[1] == pytest.approx(a[1], abs=0.3)


def test_missing_bones_give_notes_not_points():
    leg = derive_leg(femur_outline(), None, SPACING)
    assert (
        np.all(np.isfinite(leg.hip)) and np.all(np.isnan(leg.knee)) and np.all(np.isnan(leg.ankle))
    )
    assert any("needs both" in n for n in leg.notes)
    no_spacing = derive_leg(femur_outline(), tibia_outline(), None)
    assert no_spacing.ankle[1] == pytest.approx(850, abs=0.05)
    assert any("no pixel spacing" in n for n in no_spacing.notes)


# --- LabelMe files --------------------------------------------------------------------------


def labelme(path, shapes, image="leg.png", h=1024, w=128):
    doc = {
        "version": "5.0.1",
        "shapes": [
            {"label": lab, "shape_type": kind, "points": np.asarray(pts).tolist()}
            for lab, kind, pts in shapes
        ],
        "imagePath": image,
        "imageData": None,
        "imageHeight": h,
        "imageWidth": w,
    }
    path.write_text(json.dumps(doc))
    return path


def test_reader_shifts_labelme_pixel_corners_to_pixel_centres(tmp_path):
    f = labelme(tmp_path / "a.json", [("knee_right", "point", [[10.5, 20.5]])])
    ann = read_labelme(f)
    assert ann.shapes[0].points.tolist() == [[10.0, 20.0]]
    assert (ann.height, ann.width, ann.image_path) == (1024, 128, "leg.png")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "no 'shapes' list"),
        ('{"shapes": [{"points": [[1, 2]]}]}', "no text 'label'"),
        ('{"shapes": [{"label": "x", "points": [[1, "a"]]}]}', "finite numbers"),
        ('{"shapes": [{"label": "x", "points": [[1, NaN]]}]}', "finite numbers"),
        (
            '{"shapes": [{"label": "x", "shape_type": "blob", "points": [[1, 2]]}]}',
            "unknown shape_type",
        ),
        ('{"shapes": [], "imageHeight": -3}', "imageHeight"),
        ("[" * 100000, "nested too deeply"),
        ("{oops", "not JSON"),
    ],
)
def test_reader_refuses_malformed_files_naming_the_problem(tmp_path, text, problem):
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(AnnotationError, match=problem) as info:
        read_labelme(f)
    assert str(f) in str(info.value)


def test_points_win_over_outlines_and_other_labels_are_reported(tmp_path):
    shapes = [
        ("femur", "polygon", femur_outline() + 0.5),
        ("tibia", "polygon", tibia_outline() + 0.5),
        ("Knee Right", "point", [[40.5, 506.5]]),
        ("patella", "point", [[40.5, 480.5]]),
    ]
    ann = read_labelme(labelme(tmp_path / "a.json", shapes))
    d = labels_from_labelme(ann, "leg.png", DEFAULT_LANDMARKS, SPACING, other_side="absent")
    lab = d.labels
    k = DEFAULT_LANDMARKS.index
    assert lab.xy[k("knee_right")].tolist() == [40.0, 506.0]  # the point, not the derivation
    assert np.hypot(*(lab.xy[k("femur_right")] - HEAD)) < 0.3
    assert all(lab.absent[k(f"{p}_left")] for p in ("femur", "knee", "ankle"))
    assert any("'patella'" in n for n in d.notes)


def test_two_unsided_legs_are_told_apart_by_position(tmp_path):
    w = 300.0
    shapes = [
        ("femur", "polygon", femur_outline(w) + 0.5),  # the left leg, drawn first
        ("tibia", "polygon", tibia_outline(w) + 0.5),
        ("femur", "polygon", femur_outline() + 0.5),
        ("tibia", "polygon", tibia_outline() + 0.5),
    ]
    ann = read_labelme(labelme(tmp_path / "a.json", shapes, w=300))
    d = labels_from_labelme(ann, "leg.png", DEFAULT_LANDMARKS, SPACING)
    k = DEFAULT_LANDMARKS.index
    assert d.labels.xy[k("femur_right"), 0] == pytest.approx(HEAD[0], abs=0.3)
    assert d.labels.xy[k("femur_left"), 0] == pytest.approx(w - HEAD[0], abs=0.3)
    assert d.labels.present.all()


def test_unsided_leg_without_other_side_option_leaves_it_not_annotated(tmp_path):
    shapes = [
        ("femur", "polygon", femur_outline() + 0.5),
        ("tibia", "polygon", tibia_outline() + 0.5),
    ]
    ann = read_labelme(labelme(tmp_path / "a.json", shapes))
    lab = labels_from_labelme(ann, "leg.png", DEFAULT_LANDMARKS, SPACING).labels
    assert lab.present.sum() == 3 and lab.annotated.sum() == 3


# --- apn import labelme ---------------------------------------------------------------------


def _leg_folder(root, names):
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (1024, 128), dtype=np.uint8)).save(
            root / f"{name}.png"
        )
        labelme(
            root / f"{name}.json",
            [
                ("femur", "polygon", femur_outline() + 0.5),
                ("tibia", "polygon", tibia_outline() + 0.5),
            ],
            image=f"{name}.png",
        )
    return root


def test_import_writes_a_labelled_folder_and_reimport_keeps_other_rows(tmp_path):
    from apn_core.cli.main import main

    src = _leg_folder(tmp_path / "src", ["a", "b"])
    out = tmp_path / "data"
    args = [
        "import",
        "labelme",
        str(src),
        "--out",
        str(out),
        "--spacing",
        "1.32",
        "--other-side",
        "absent",
    ]
    assert main([*args, "--overlays", str(tmp_path / "check")]) == 0
    rows = list(csv.DictReader((out / "landmarks.csv").open()))
    assert len(rows) == 12 and {r["image"] for r in rows} == {"a.png", "b.png"}
    assert all(r["spacing_mm"] == "1.32" for r in rows)
    assert (out / "a.png").is_file() and (tmp_path / "check" / "a.png.png").is_file()
    record = json.loads((out / "labelme_import.json").read_text())
    assert record["images"]["a.png"]["legs"][0]["femoral_head"]["radius_px"] == pytest.approx(
        20, abs=0.3
    )
    # a hand-added row of another image and a hand edit of b survive importing a again
    text = (out / "landmarks.csv").read_text()
    text = text.replace("b.png,knee_right,", "b.png,knee_right,") + "c.png,patella_right,1,2,1.32\n"
    (out / "landmarks.csv").write_text(text)
    before = [line for line in text.splitlines() if not line.startswith("a.png")]
    (src / "b.json").unlink()
    (src / "b.png").unlink()
    assert main(args) == 0
    after = (out / "landmarks.csv").read_text().splitlines()
    assert [line for line in after if not line.startswith("a.png")] == before


def test_import_reports_a_file_it_cannot_use_and_goes_on(tmp_path, capsys):
    from apn_core.cli.main import main

    src = _leg_folder(tmp_path / "src", ["a"])
    (src / "broken.json").write_text('{"shapes": [{"label": "femur", "points": [[1]]}]}')
    code = main(["import", "labelme", str(src), "--out", str(tmp_path / "d"), "--spacing", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "broken.json" in out and "1 image(s) imported" in out


# --- the real OAI films ---------------------------------------------------------------------


def test_real_oai_outlines_give_plausible_landmarks(shared_dir, tmp_path):
    """Every OAI test film's outlines give three right-leg landmarks with an anatomically
    plausible head size, femur/tibia ratio and HKA (the definitions were checked by eye on
    every film with ``--overlays``)."""
    src = shared_dir / "realdata" / "oai-12m" / "test"
    if not src.is_dir():
        pytest.skip("../shared/realdata/oai-12m is not here")
    k = DEFAULT_LANDMARKS.index
    for path in sorted(src.glob("*.json")):
        ann = read_labelme(path)
        d = labels_from_labelme(ann, path.stem, DEFAULT_LANDMARKS, SPACING, "absent")
        assert not d.notes, (path.name, d.notes)
        leg = d.legs[0]
        assert leg.side == "right"
        assert 14 <= leg.head.radius * SPACING <= 36, path.name
        hip, knee, ankle = (d.labels.xy[k(f"{p}_right")] for p in ("femur", "knee", "ankle"))
        ratio = np.hypot(*(hip - knee)) / np.hypot(*(knee - ankle))
        assert 1.0 <= ratio <= 1.5, path.name
        u, v = hip - knee, ankle - knee
        hka = 180 - np.degrees(np.arccos(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v)))
        assert hka <= 20, path.name


def test_check_picture_titles_each_crop_with_its_landmark_name(monkeypatch):
    """The crops were titled ``hip_right`` while landmarks.csv says ``femur_right``."""
    from PIL import ImageDraw

    from apn_core.outlines.derive import LegLandmarks
    from apn_core.outlines.overlay import draw_derivation

    titles = []
    real = ImageDraw.ImageDraw.text

    def text(self, xy, value, *args, **kwargs):
        titles.append(value)
        return real(self, xy, value, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", text)
    leg = LegLandmarks(
        "right", np.array([60.0, 100.0]), np.array([55.0, 500.0]), np.array([62.0, 900.0])
    )
    pixels = np.tile(np.arange(128, dtype=np.uint8), (1024, 1))
    draw_derivation(pixels, [leg], [], "film.png")
    assert titles == ["femur_right", "knee_right", "ankle_right", "film.png"]
    assert set(titles[:3]) <= set(DEFAULT_LANDMARKS.names)


def test_a_damaged_import_record_is_replaced_not_a_traceback(tmp_path):
    """``DATA/labelme_import.json`` nested 200k deep (or not a record) was read unbounded:
    RecursionError traceback after landmarks.csv was already written."""
    from apn_core.cli.main import main

    src = _leg_folder(tmp_path / "src", ["a"])
    out = tmp_path / "data"
    args = ["import", "labelme", str(src), "--out", str(out), "--spacing", "1.32"]
    assert main(args) == 0
    record = out / "labelme_import.json"
    for damaged in ("[" * 200_000 + "]" * 200_000, '"text"', "[1, 2]"):
        record.write_text(damaged)
        assert main(args) == 0
        assert list(json.loads(record.read_text())["images"]) == ["a.png"]


def test_import_takes_single_files_too(tmp_path):
    """``apn import labelme a.json c.json --out D``: a chosen subset of a folder (a calibration
    split, say), each image at its path below its file's folder."""
    from apn_core.cli.main import main

    src = _leg_folder(tmp_path / "src", ["a", "b", "c"])
    out = tmp_path / "some"
    args = ["import", "labelme", str(src / "a.json"), str(src / "c.json"), "--out", str(out)]
    assert main([*args, "--spacing", "1.32"]) == 0
    rows = list(csv.DictReader((out / "landmarks.csv").open()))
    assert {r["image"] for r in rows} == {"a.png", "c.png"}
    assert sorted(p.name for p in out.glob("*.png")) == ["a.png", "c.png"]
    assert main(["import", "labelme", str(tmp_path / "nope.json"), "--out", str(out)]) == 2
