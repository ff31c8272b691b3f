"""The ``apn`` command line, run as a user would (subprocess) and in-process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydicom.data import get_testdata_file

from apn_core.cli.main import main


def _apn(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "apn_core", *args], capture_output=True, text=True, timeout=120
    )


def test_synth_check_info_end_to_end(tmp_path):
    out = tmp_path / "demo"
    res = _apn("synth", str(out), "-n", "2", "--seed", "4", "--spacing", "2", "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "femur_right" in res.stdout and "wrote 2 radiograph(s)" in res.stdout
    res = _apn("check", str(out))
    assert res.returncode == 0 and "OK: ready for training" in res.stdout
    image = next(out.glob("synth_4_0000.*"))
    res = _apn("info", str(image), "--json")
    info = json.loads(res.stdout)
    assert info["spacing_mm"] == [2.0, 2.0] and info["rows"] > 300


def test_corrupt_file_gives_one_line_error_not_traceback():
    res = _apn("info", get_testdata_file("MR_truncated.dcm"))
    assert res.returncode == 2
    assert res.stderr.startswith("apn: error: ") and "MR_truncated.dcm" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_check_lists_problems_and_fails(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    (d / "landmarks.csv").write_text(
        "image,landmark,x,y\nmissing.dcm,femur_right,1,2\nmissing.dcm,elbow,1,2\n"
    )
    assert main(["check", str(d)]) == 1
    out = capsys.readouterr().out
    assert "error [missing-file] missing.dcm" in out and "error [unknown-landmark]" in out
    assert "FAILED: 3 error(s)" in out  # + no-labelled-images
    assert main(["check", str(d), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["counts"]["missing-file"] == 1


def test_info_png_without_spacing_says_how_to_give_one(tmp_path, capsys):
    import imageio.v3 as iio
    import numpy as np

    iio.imwrite(tmp_path / "a.png", np.zeros((3, 4), np.uint8))
    assert main(["info", str(tmp_path / "a.png")]) == 0
    assert "pass --spacing" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "a.png"), "--spacing", "0.2,0.3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spacing_mm"] == [0.2, 0.3]


def test_custom_landmark_set_file(tmp_path, capsys):
    (tmp_path / "set.json").write_text(json.dumps({"names": ["a", "b"]}))
    d = tmp_path / "d"
    d.mkdir()
    (d / "landmarks.csv").write_text("image,landmark,x,y\nz.png,femur_right,1,1\n")
    main(["check", str(d), "--landmarks", str(tmp_path / "set.json")])
    assert "'femur_right' is not one of a, b" in capsys.readouterr().out


# --- apn info and apn evaluate: spacing precedence, report location, landmark sets -------


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Three labelled synthetic radiographs at 2 mm/px (truth in landmarks.csv)."""
    from apn_core.synth import SynthConfig, write_synthetic_folder

    root = tmp_path_factory.mktemp("evaluate")
    return write_synthetic_folder(root / "data", 3, seed=8, config=SynthConfig(spacing_mm=2.0))


def test_info_keeps_the_files_spacing_and_shows_the_given_one(labelled, capsys):
    dicom = str(next(labelled.glob("*.dcm")))
    assert main(["info", dicom, "--spacing", "3", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["spacing_mm"] == [2.0, 2.0] and info["spacing_source"] == "DICOM PixelSpacing"
    assert info["spacing_given_mm"] == [3.0, 3.0] and "file's is used" in info["spacing_note"]


def _shifted_truth(labelled, tmp_path, drop: str | None = None, dx: float = 1.0):
    """landmarks.csv of the truth moved ``dx`` px to the right, without image ``drop``."""
    import csv

    with open(labelled / "landmarks.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["image"] != drop]
    for r in rows:
        if r.get("x"):
            r["x"] = str(float(r["x"]) + dx)
    path = tmp_path / "pred.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_evaluate_writes_its_report_in_the_current_folder_not_in_data(
    labelled, tmp_path, monkeypatch, capsys
):
    from apn_core.inference.outputs import OUTPUT_MARKER

    monkeypatch.chdir(tmp_path)
    pred = _shifted_truth(labelled, tmp_path)
    assert main(["evaluate", str(labelled), "--pred", str(pred)]) == 0
    report = json.loads(
        (tmp_path / "evaluation" / "evaluation.json").read_text(),
        parse_constant=lambda c: pytest.fail(f"{c} in evaluation.json"),
    )
    assert report["all"]["mre"] == pytest.approx(2.0, abs=1e-3)  # 1 px × 2 mm/px
    assert (tmp_path / "evaluation" / OUTPUT_MARKER).is_file()
    assert not (labelled / "evaluation").exists()
    assert "report: evaluation/evaluation.json" in capsys.readouterr().out


def test_evaluate_override_spacing_replaces_the_files(labelled, tmp_path, capsys):
    pred = _shifted_truth(labelled, tmp_path)
    argv = ["evaluate", str(labelled), "--pred", str(pred), "--out", str(tmp_path / "ev")]
    assert main([*argv, "--spacing", "5"]) == 0  # a fallback: the files' 2 mm/px is kept
    assert json.loads((tmp_path / "ev" / "evaluation.json").read_text())["all"]["mre"] == (
        pytest.approx(2.0, abs=1e-3)
    )
    assert main([*argv, "--override-spacing", "3"]) == 0
    assert json.loads((tmp_path / "ev" / "evaluation.json").read_text())["all"]["mre"] == (
        pytest.approx(3.0, abs=1e-3)
    )
    capsys.readouterr()


def test_evaluate_with_images_missing_from_the_predictions_exits_1(labelled, tmp_path, capsys):
    pred = _shifted_truth(labelled, tmp_path, drop="synth_8_0001.dcm")
    code = main(["evaluate", str(labelled), "--pred", str(pred), "--out", str(tmp_path / "ev")])
    assert code == 1
    assert "1 of 3 image(s) have no prediction and are not scored: synth_8_0001.dcm" in (
        capsys.readouterr().err
    )


def test_evaluate_refuses_a_model_with_another_landmark_set(labelled, tmp_path, capsys):
    (tmp_path / "set.json").write_text(json.dumps({"names": ["a", "b"]}))
    argv = ["evaluate", str(labelled), "--out", str(tmp_path / "ev"), "--landmarks"]
    assert main([*argv, str(tmp_path / "set.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("apn: error: default: the model finds femur_right, femur_left")
    assert "folder is read with --landmarks" in err and "(a, b)" in err


def test_evaluate_with_the_model_scores_every_image(labelled, tmp_path, capsys):
    argv = ["evaluate", str(labelled), "--out", str(tmp_path / "ev"), "--no-flip"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "PCK@10" in text and "nan" not in text.lower()
    assert json.loads((tmp_path / "ev" / "evaluation.json").read_text())["counts"]["images"] == 3


def test_the_error_cdf_axis_shows_where_the_errors_are():
    """The old plot drew 0–30 mm linearly, squeezing sub-mm errors into its first mm."""
    import numpy as np

    from apn_core.inference.report import cdf_axis

    assert cdf_axis(np.array([0.3, 0.8, 1.2, np.nan]), (10.0, 20.0)) == (0.2, pytest.approx(26.0))
    assert cdf_axis(np.array([0.09, 45.0]), (10.0, 20.0)) == (0.05, pytest.approx(58.5))
    assert cdf_axis(np.array([]), (5.0,)) == (0.1, pytest.approx(6.5))


def test_evaluate_table_prints_a_dash_for_missing_values(capsys):
    from apn_core.cli.evaluate import print_table

    nan = float("nan")
    metrics = {"all": {"n": 3, "mre": 1.0, "sd": nan, "median": 1.0, "pck@10": 1.0}, "counts": {}}
    print_table(metrics, (), (10.0,))
    out = capsys.readouterr().out
    assert "nan" not in out and "1.00 ± –" in out and "100.0%" in out


def test_the_error_cdf_of_a_model_that_reported_nothing_says_so(tmp_path):
    """Every landmark reported absent: no curve, a note instead of an empty legend (which
    matplotlib warns about — the threshold lines carry no labels)."""
    import warnings

    from apn_core.inference.report import cdf_plot

    rows = [{"landmark": "knee_left", "error_mm": None, "occluded": False}] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cdf_plot(tmp_path / "cdf.png", rows, (10.0, 20.0))
    assert (tmp_path / "cdf.png").stat().st_size > 1000
