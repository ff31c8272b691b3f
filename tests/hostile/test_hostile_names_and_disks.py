"""File names at the edge of what a file system allows, names that are not UTF-8, output
folders that hold the wrong thing, and disks that fill up without naming a file: each is
written as given, or ends in one ``apn: error:`` line. (Hardening round 2, issue 19.)"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from apn_core.utils import atomic
from apn_core.utils.atomic import write_text_atomic
from tests.hostile.cli import make_tiny_run, run_apn

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """An untrained ``tiny`` run folder (these tests are about files, and it is fast)."""
    return make_tiny_run(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from apn_core.synth import SynthConfig, write_synthetic_folder

    return write_synthetic_folder(
        tmp_path_factory.mktemp("names") / "data",
        2,
        seed=21,
        config=SynthConfig(spacing_mm=2.0, formats=("dicom",)),
    )


def _predict(capsys, tiny, *args) -> tuple[int, str, str]:
    return run_apn(capsys, "predict", "--model", tiny, "--workers", "0", "--no-flip", *args)


# ---------------------------------------------------------------- long names


@pytest.mark.parametrize("stem", ["a" * 240, "é" * 125, "b" * 250])
def test_a_legal_long_name_keeps_a_legal_temporary_name(tmp_path, stem):
    path = tmp_path / f"{stem}.json"
    assert len(os.fsencode(path.name)) <= 255
    write_text_atomic(path, "{}")
    assert path.read_text() == "{}"
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left


def test_predict_writes_the_results_of_an_image_with_a_240_byte_name(
    tmp_path, images, tiny, capsys
):
    """The temporary name went over 255 bytes: the run stopped with "free disk space",
    the files after it were never predicted and every re-run stopped there."""
    source = tmp_path / "in"
    source.mkdir()
    long_name = "L" * 240 + ".dcm"
    short = sorted(images.glob("*.dcm"))
    shutil.copy(short[0], source / long_name)
    shutil.copy(short[1], source / "z.dcm")
    code, text, err = _predict(capsys, tiny, source, "--out", tmp_path / "out", "--overlays")
    assert code == 0 and text.startswith("2 predicted, 0 already done, 0 failed"), err
    assert (tmp_path / "out" / f"{long_name}.mrk.json").is_file()


def test_a_name_too_long_for_its_outputs_fails_alone(tmp_path, images, tiny, capsys):
    source = tmp_path / "in"
    source.mkdir()
    too_long = "L" * 248 + ".dcm"  # 252 bytes: legal, but "<name>.mrk.json" is not
    first, second = sorted(images.glob("*.dcm"))
    shutil.copy(first, source / too_long)
    shutil.copy(second, source / "z.dcm")
    code, text, _ = _predict(capsys, tiny, source, "--out", tmp_path / "out")
    assert code == 1 and text.startswith("1 predicted, 0 already done, 1 failed")
    assert "longer than the file system allows" in text and "rename the image" in text
    assert "z.dcm," in (tmp_path / "out" / "landmarks.csv").read_text()


# ---------------------------------------------------------------- names that are not UTF-8


@posix_only
def test_a_name_that_is_not_utf8_is_written_as_given(tmp_path, images, tiny, capsys):
    source = tmp_path / "in"
    source.mkdir()
    raw = os.path.join(os.fsencode(source), b"leg\xff.dcm")
    shutil.copy(sorted(images.glob("*.dcm"))[0], raw)
    out = tmp_path / "out"
    code, text, err = _predict(capsys, tiny, source, "--out", out)
    assert code == 0 and text.startswith("1 predicted"), err
    table = (out / "landmarks.csv").read_bytes().decode("utf-8")  # still UTF-8
    assert "leg\\xff.dcm,femur_right," in table
    assert (out / "measurements.csv").read_bytes().decode("utf-8").count("leg\\xff.dcm") == 2
    assert os.path.exists(os.path.join(os.fsencode(out), b"leg\xff.dcm.mrk.json"))
    code, text, _ = _predict(capsys, tiny, source, "--out", out)  # the record round-trips
    assert code == 0 and text.startswith("0 predicted, 1 already done")


@posix_only
def test_a_name_that_is_not_utf8_shows_as_in_the_tables(tmp_path, images, capsys):
    """``apn info`` and error messages show an undecodable byte as ``\\xNN``, as the tables
    do (README "Untrusted input"); they showed ``\\udcff``."""
    good = os.path.join(os.fsencode(tmp_path), b"leg\xff.dcm")
    shutil.copy(sorted(images.glob("*.dcm"))[0], good)
    code, text, err = run_apn(capsys, "info", os.fsdecode(good))
    assert code == 0, err
    assert text.splitlines()[0].endswith("leg\\xff.dcm") and "udcff" not in text, text
    bad = os.path.join(os.fsencode(tmp_path), b"bad\xfe.png")
    Path(os.fsdecode(bad)).write_bytes(b"not a PNG")
    code, _, err = run_apn(capsys, "info", os.fsdecode(bad))
    assert code == 2 and "bad\\xfe.png: " in err and "udcfe" not in err, err


# ---------------------------------------------------------------- output folders


def test_out_predictions_being_a_file_is_named_as_such(tmp_path, images, tiny, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions").write_text("not a folder")
    code, _, err = _predict(capsys, tiny, images, "--out", out)
    assert code == 2
    assert f"apn: error: {out / 'predictions'}: exists and is not a folder" in err
    assert "free disk space" not in err


@posix_only
def test_a_fifo_named_landmarks_csv_in_an_output_folder_never_blocks(tmp_path):
    """The labelled-folder check opened OUT/landmarks.csv with a plain open(): a FIFO there
    (beside the output marker) hung apn predict before it started."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".apn-output").write_text("apn predict\n")
    os.mkfifo(out / "landmarks.csv")
    code = (
        "from apn_core.errors import FileProblem\n"
        "from apn_core.inference.outputs import check_output_folder\n"
        f"try:\n    check_output_folder({str(out)!r})\n"
        "except FileProblem as exc:\n    print(exc)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "holds a landmarks.csv that apn predict did not write" in res.stdout


# ---------------------------------------------------------------- a full disk, no file named


def _disk_fills_at(monkeypatch, matches) -> None:
    """The next atomic write whose temporary name ``matches`` fails as a full disk does
    when writing through an open file: ENOSPC, and no file name in the error."""
    real = atomic._fsync_file

    def fill(path):
        if matches(Path(path).name):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path)

    monkeypatch.setattr(atomic, "_fsync_file", fill)


def _assert_clear(code: int, err: str) -> None:
    assert code == 2, err
    assert err.startswith("apn: error: ") and "No space left on device" in err, err
    assert "free some space" in err and "Traceback" not in err


def test_a_full_disk_in_synth_and_demo_is_one_clear_line(tmp_path, monkeypatch, capsys):
    _disk_fills_at(monkeypatch, lambda name: name.endswith(".dcm"))
    code, _, err = run_apn(
        capsys, "synth", tmp_path / "s", "-n", "1", "--seed", "1", "--spacing", "2"
    )
    _assert_clear(code, err)
    code, _, err = run_apn(capsys, "demo", "--out", tmp_path / "demo")
    _assert_clear(code, err)


def test_a_full_disk_in_evaluate_is_one_clear_line(tmp_path, images, monkeypatch, capsys):
    _disk_fills_at(monkeypatch, lambda name: "apn-output" not in name)
    code, _, err = run_apn(
        capsys, "evaluate", images, "--pred", images / "landmarks.csv", "--out", tmp_path / "e"
    )
    _assert_clear(code, err)


def test_a_full_disk_in_calibrate_is_one_clear_line(tmp_path, images, tiny, monkeypatch, capsys):
    from apn_core.inference import calibration
    from apn_core.inference.model_store import BUNDLED_DIR

    bundled = calibration.load_calibrator(BUNDLED_DIR / "default" / "calibration.json")
    monkeypatch.setattr(calibration, "fit_calibrator", lambda *a, **k: bundled)  # no fitting
    _disk_fills_at(monkeypatch, lambda name: True)
    code, _, err = run_apn(
        capsys, "calibrate", images, "--model", tiny, "--out", tmp_path / "c.json"
    )
    _assert_clear(code, err)


@pytest.fixture
def small_disk(tmp_path):
    """A real 256 kB tmpfs (root on Linux); skipped where the machine does not allow it."""
    point = tmp_path / "disk"
    point.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or res.returncode})")
    yield point
    subprocess.run(["umount", str(point)], check=False)


def test_a_real_full_disk_in_synth_is_one_clear_line(small_disk, capsys):
    code, _, err = run_apn(
        capsys, "synth", small_disk / "s", "-n", "4", "--seed", "1", "--spacing", "0.5"
    )
    assert code == 2 and err.startswith("apn: error: ") and "No space left" in err, err
    assert "Traceback" not in err
