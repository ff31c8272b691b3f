"""The calibration object in `apn info` and `apn predict`: a JPEG with a ruler is measured
in mm with no option typed; the choice is an option that a re-run respects."""

from __future__ import annotations

import csv
import json
import math

import pytest

from apn_core.cli.main import main
from apn_core.synth.config import SynthConfig
from apn_core.synth.generate import write_synthetic_folder
from tests.core.test_calibration_object import SPACING, with_ruler

MAGNIFICATION = 1.12


@pytest.fixture(scope="module")
def ruler_jpeg(tmp_path_factory):
    """A synthetic long-leg film exported as an 8-bit JPEG (no spacing in the file) with a
    5 mm / cm ruler at a magnification of 1.12."""
    folder = tmp_path_factory.mktemp("jpeg")
    config = SynthConfig(
        spacing_mm=SPACING,
        families=("dr-clinic",),
        restricted_fraction=0.0,
        overrides={
            "storage.formats": "jpeg",
            "storage.bits": "8",
            "accessories.ruler": 1.0,
            "accessories.ruler_places": "right",
            "accessories.ruler_styles": "5mm",
            "accessories.magnification": str(MAGNIFICATION),
        },
    )
    write_synthetic_folder(folder, 1, seed=7, config=config)
    path = folder / "film.jpg"
    next(folder.glob("*.jpg")).rename(path)
    (folder / "landmarks.csv").unlink()  # the film alone, as an export arrives
    return path


def info(capsys, *args) -> dict:
    assert main(["info", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_info_gives_the_rulers_spacing_for_a_jpeg(capsys, ruler_jpeg):
    out = info(capsys, ruler_jpeg)
    assert out["spacing_source"] == "ruler"
    assert out["spacing_mm"][0] == pytest.approx(SPACING / MAGNIFICATION, rel=0.005)
    assert out["calibration"]["found"] and out["calibration"]["object"] == "ruler"
    assert len(out["calibration"]["box"]) == 4


def test_info_text_names_the_object_and_none_looks_for_none(capsys, ruler_jpeg):
    assert main(["info", str(ruler_jpeg)]) == 0
    text = capsys.readouterr().out
    assert "spacing_source    ruler" in text and "calibration       ruler:" in text
    out = info(capsys, ruler_jpeg, "--calibration-object", "none")
    assert out["spacing_mm"] is None and out["calibration"]["found"] is False


def test_info_uses_a_given_spacing_as_a_bound_on_the_ruler(capsys, ruler_jpeg):
    """--spacing 0.5: the ruler (0.446 mm/px, 1.12×) is within 0.8–1.3 of it and used;
    --spacing 2 would make the ruler 4.5×: refused, with a note, and --spacing applies."""
    out = info(capsys, ruler_jpeg, "--spacing", "0.5")
    assert out["spacing_source"] == "ruler"
    out = info(capsys, ruler_jpeg, "--spacing", "2")
    assert out["spacing_mm"] == [2.0, 2.0] and out["spacing_source"].startswith("given")
    assert out["calibration"]["found"] is False and out["calibration"]["refused"] is True
    assert "refused" in out["calibration"]["note"]
    assert main(["info", str(ruler_jpeg), "--spacing", "2"]) == 0
    assert "is refused" in capsys.readouterr().out


def test_predict_refuses_a_ruler_implausible_against_the_folders_spacing(
    tmp_path, capsys, ruler_jpeg
):
    """A folder's landmarks.csv spacing_mm counts as the file's own, and bounds the ruler
    as a DICOM's does; --spacing, for a file without one, too."""
    import shutil

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(ruler_jpeg, data / "film.jpg")
    (data / "landmarks.csv").write_text(
        "image,landmark,x,y,spacing_mm\nfilm.jpg,knee_left,10,20,2\n"
    )
    out = tmp_path / "out"
    assert main(["predict", str(data), "--out", str(out), "--no-flip"]) in (0, 1)
    text = capsys.readouterr().out
    assert "reading was refused" in text
    record = json.loads((out / "predictions" / "film.jpg.json").read_text())
    assert record["spacing_from"] == "labels" and record["spacing"] == [2.0, 2.0]
    assert record["calibration"]["refused"] is True
    alone = tmp_path / "alone"
    args = ["predict", str(ruler_jpeg), "--out", str(alone), "--no-flip", "--spacing", "2"]
    assert main(args) in (0, 1)
    assert "reading was refused" in capsys.readouterr().out
    record = json.loads((alone / "predictions" / "film.jpg.json").read_text())
    assert record["spacing_from"] == "fallback" and record["calibration"]["refused"] is True


def test_info_refuses_a_ball_without_a_diameter(capsys, ruler_jpeg):
    with pytest.raises(SystemExit) as exc:
        main(["info", str(ruler_jpeg), "--calibration-object", "ball"])
    assert exc.value.code == 2
    assert "ball:DIAMETER" in capsys.readouterr().err


def test_predict_measures_a_jpeg_in_mm_with_no_option(tmp_path, capsys, ruler_jpeg):
    out = tmp_path / "out"
    assert main(["predict", str(ruler_jpeg), "--out", str(out), "--no-flip"]) in (0, 1)
    text = capsys.readouterr().out
    assert "1 predicted" in text and "from the ruler on the film" in text
    with open(out / "landmarks.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["spacing_source"] for r in rows} == {"ruler"}
    assert float(rows[0]["spacing_mm"]) == pytest.approx(SPACING / MAGNIFICATION, rel=0.005)
    present = [r for r in rows if r["present"] == "1"]
    assert present and all(r["x_mm"] for r in present)
    for r in present:
        assert float(r["x_mm"]) == pytest.approx(float(r["x"]) * float(r["spacing_mm"]), abs=0.01)
    record = json.loads((out / "predictions" / "film.jpg.json").read_text())
    assert record["spacing_from"] == "object" and record["calibration"]["found"]
    markups = json.loads((out / "film.jpg.mrk.json").read_text())
    (spacing,) = markups["markups"][0]["measurements"]
    assert spacing["name"] == "pixel spacing" and "ruler" in spacing["description"]


def test_predict_without_the_object_fails_the_image_and_says_why(tmp_path, capsys, ruler_jpeg):
    out = tmp_path / "out"
    code = main(
        ["predict", str(ruler_jpeg), "--out", str(out), "--no-flip", "--calibration-object", "none"]
    )
    assert code == 2
    text = capsys.readouterr().out  # not "found": with none, the film is not searched
    assert "not looked for (--calibration-object none); pass --spacing MM" in text, text
    assert "no calibration object found" not in text


def test_rerun_redoes_an_image_made_with_another_calibration_object(tmp_path, capsys, ruler_jpeg):
    out = tmp_path / "out"
    args = ["predict", str(ruler_jpeg), "--out", str(out), "--no-flip", "--spacing", "0.3"]
    main([*args, "--calibration-object", "none"])
    capsys.readouterr()
    main(args)
    text = capsys.readouterr().out
    assert "1 redone" in text and "made with another --calibration-object" in text


def test_a_dicoms_spacing_is_kept_and_the_magnification_reported(tmp_path, capsys):
    from apn_core.io import write_dicom

    path = tmp_path / "film.dcm"
    write_dicom(path, with_ruler("numbered", MAGNIFICATION), (SPACING, SPACING))
    out = info(capsys, path)
    assert out["spacing_mm"] == [SPACING, SPACING]
    assert out["spacing_source"] != "ruler"
    assert out["calibration"]["magnification"] == pytest.approx(MAGNIFICATION, rel=0.005)
    used = info(capsys, path, "--spacing-from", "object")
    assert used["spacing_source"] == "ruler"
    assert used["spacing_mm"][0] == pytest.approx(SPACING / MAGNIFICATION, rel=0.005)
    assert "DICOM" in used["spacing_note"]


OAI = ("oai-12m/test/00764804_1x1.jpg", "oai-12m/test/00807804_1x1.jpg")


@pytest.mark.parametrize("name", OAI)
def test_real_oai_film_ruler_gives_its_spacing(capsys, shared_dir, name):
    """The OAI films' ruler (PROVENANCE.md: ≈ 1.32 mm/px by autocorrelation, ± 3 %)."""
    path = shared_dir / "realdata" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    out = info(capsys, path)
    assert out["spacing_source"] == "ruler"
    assert math.isclose(out["spacing_mm"][0], 1.32, rel_tol=0.03)


def test_real_oai_film_is_measured_in_mm_by_predict_with_no_option(tmp_path, capsys, shared_dir):
    path = shared_dir / "realdata" / OAI[0]
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    out = tmp_path / "out"
    main(["predict", str(path), "--out", str(out), "--no-flip"])
    assert "1 predicted" in capsys.readouterr().out
    with open(out / "landmarks.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["spacing_source"] for r in rows} == {"ruler"}
    assert all(r["x_mm"] for r in rows if r["present"] == "1")


def test_info_names_the_ruler_when_given_spacing_disagrees_with_it(ruler_jpeg, capsys):
    """A JPEG has no spacing of its own: a --spacing that disagrees with its ruler's was
    said to differ from "the file's own" (review of wave 3). A --spacing within the
    magnification bound of the reading (0.8–1.3 ×) leaves the ruler's in use."""
    out = info(capsys, ruler_jpeg, "--spacing", str(round(1.1 * SPACING / MAGNIFICATION, 4)))
    assert out["spacing_source"] == "ruler"
    note = out["spacing_note"]
    assert "the ruler's on the film" in note and "the ruler's is used" in note, note
    assert "file" not in note
