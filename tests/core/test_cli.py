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


def test_bad_options_are_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["info", "x.png", "--spacing", "-1"])
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", str(tmp_path / "o"), "--hip-prosthesis", "2"])
    assert exit_info.value.code == 2 and "within 0 and 1" in capsys.readouterr().err


def test_custom_landmark_set_file(tmp_path, capsys):
    (tmp_path / "set.json").write_text(json.dumps({"names": ["a", "b"]}))
    d = tmp_path / "d"
    d.mkdir()
    (d / "landmarks.csv").write_text("image,landmark,x,y\nz.png,femur_right,1,1\n")
    main(["check", str(d), "--landmarks", str(tmp_path / "set.json")])
    assert "'femur_right' is not one of a, b" in capsys.readouterr().out
