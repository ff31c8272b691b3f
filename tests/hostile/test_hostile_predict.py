"""Hostile and unlucky conditions around ``apn predict``/``apn info``: damaged re-run
records, output folders that cannot be written (a file, read-only, a full disk — real
small tmpfs mounts where the machine allows them, simulated write errors everywhere) and
crafted DICOM strings. Each case runs in well under a few seconds."""

from __future__ import annotations

import errno
import shutil
import subprocess
from pathlib import Path

import pytest

from apn_core.cli.main import main
from apn_core.inference import outputs
from apn_core.inference.outputs import markups_path, read_record, record_path
from apn_core.synth import SynthConfig, write_synthetic_folder
from tests.hostile.cli import make_tiny_run, run_apn


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_synthetic_folder(
        tmp_path_factory.mktemp("hostile") / "data",
        3,
        seed=21,
        config=SynthConfig(spacing_mm=2.0, formats=("dicom", "tiff")),
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """An untrained ``tiny`` run folder: these tests are about files, and it is fast."""
    return make_tiny_run(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def predict(capsys, tiny):
    """``apn predict ARGS`` in-process with the tiny model → (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        return run_apn(
            capsys, "predict", "--workers", "0", "--no-flip", "--model", str(tiny), *args
        )

    return run


@pytest.fixture
def no_network(monkeypatch):
    """Fail loudly if a command gets as far as loading a model."""
    from apn_core.inference import Predictor

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the output folder was checked")

    monkeypatch.setattr(Predictor, "load", refuse)


# --- damaged records in predictions/ (issue 10.10) ----------------------------------------

DAMAGED = {
    "not-json": b"{garbage",
    "empty": b"",
    "not-utf8": b"\xff\xfe\x00garbage",
    "a-list": b"[]",
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
    "wrong-types": b'{"format": "napari-apn prediction", "version": 2, "image": "synth_21_0000.dcm",'
    b' "source": 5, "rows": "oops"}',
    "nan-and-strings": b'{"format": "napari-apn prediction", "version": 2, "image": "synth_21_0000.dcm",'
    b' "source": "x", "size": 1, "mtime_ns": 1, "model": {}, "options": {}, "spacing_from": "file",'
    b' "rows": [{"landmark": "a", "x": "1", "y": NaN, "x_mm": null, "y_mm": null,'
    b' "confidence": 1, "present": true}], "alignment": {}}',
    "old-version": b'{"image": "synth_21_0000.dcm", "rows": []}',
}


@pytest.fixture(scope="module")
def predicted_one(data, tiny, tmp_path_factory) -> tuple[Path, Path]:
    """One image and its predict output folder, copied by each test that damages it."""
    image = data / "synth_21_0000.dcm"
    out = tmp_path_factory.mktemp("one") / "out"
    argv = ["predict", str(image), "--out", str(out), "--workers", "0", "--model", str(tiny)]
    assert main(argv) == 0
    return image, out


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_record_makes_its_image_redone_with_a_warning(
    tmp_path, predicted_one, content, predict, capsys
):
    image, original = predicted_one
    out = shutil.copytree(original, tmp_path / "out")
    record_path(out, "synth_21_0000.dcm").write_bytes(content)
    code, text, err = predict(str(image), "--out", str(out))
    assert code == 0, err
    assert text.startswith("1 predicted (1 redone), 0 already done, 0 failed")
    assert "redone (its record was damaged" in text and "Traceback" not in err
    assert read_record(out, "synth_21_0000.dcm")["image"] == "synth_21_0000.dcm"


# --- output folders that cannot be written (issues 10.10, 10.16) ---------------------------


def test_out_that_is_a_file_fails_before_the_model_loads(
    tmp_path, data, no_network, predict, capsys
):
    (tmp_path / "taken").write_text("x")
    code, _, err = predict(str(data), "--out", str(tmp_path / "taken"))
    assert (
        code == 2
        and err
        == f"apn: error: {tmp_path / 'taken'}: exists and is not a folder; choose another output folder\n"
    )


def test_out_below_a_file_fails_before_the_model_loads(tmp_path, data, no_network, predict, capsys):
    (tmp_path / "taken").write_text("x")
    code, _, err = predict(str(data), "--out", str(tmp_path / "taken" / "sub"))
    assert code == 2 and "cannot write to the output folder (Not a directory)" in err


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.EACCES, "Permission denied"),
        (errno.EROFS, "Read-only file system"),
        (errno.ENOSPC, "No space left on device"),
    ],
)
def test_unwritable_out_fails_before_the_model_loads(
    tmp_path, data, monkeypatch, no_network, code, reason, predict, capsys
):
    def refuse(path, text):
        raise OSError(code, reason, str(path))

    monkeypatch.setattr(outputs, "write_text_atomic", refuse)
    rc, out, err = predict(str(data), "--out", str(tmp_path / "out"))
    assert (
        rc == 2
        and err == f"apn: error: {tmp_path / 'out'}: cannot write to the output folder ({reason})\n"
    )
    assert out == ""


def test_a_full_disk_mid_batch_stops_cleanly_and_a_rerun_finishes(
    tmp_path, data, monkeypatch, predict, capsys
):
    real = outputs.write_text_atomic
    records = []

    def fill_up(path, text):
        if Path(path).parent.name == "predictions" or "predictions" in Path(path).parts:
            records.append(path)
            if len(records) > 1:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(outputs, "write_text_atomic", fill_up)
    out = tmp_path / "out"
    code, text, err = predict(str(data), "--out", str(out))
    assert code == 2 and text.startswith("1 predicted, 0 already done, 0 failed")
    assert "No space left on device" in err and "run the same command again to continue" in err
    _assert_consistent(out)
    assert (out / "landmarks.csv").read_text().count(
        "synth_21_0000.dcm"
    ) == 6  # what is done is listed
    monkeypatch.setattr(outputs, "write_text_atomic", real)
    code, text, _ = predict(str(data), "--out", str(out))
    assert code == 0 and text.startswith("2 predicted, 1 already done, 0 failed")


def _assert_consistent(out: Path) -> None:
    """Every record's outputs exist; no temporary file is left behind."""
    for record in (out / "predictions").rglob("*.json"):
        name = record.relative_to(out / "predictions").as_posix().removesuffix(".json")
        assert markups_path(out, name).is_file(), name
    assert not [p for p in out.rglob(".*tmp*")]


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (root on Linux); skip where the machine does not allow it."""
    mounted = []

    def mount(size: str, read_only: bool = False) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        res = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or res.returncode})")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def test_read_only_out_on_a_real_read_only_mount(
    tmp_path, data, tmpfs, no_network, predict, capsys
):
    out = tmpfs("64k", read_only=True) / "out"
    code, _, err = predict(str(data), "--out", str(out))
    assert (
        code == 2
        and err == f"apn: error: {out}: cannot write to the output folder (Read-only file system)\n"
    )


def test_a_real_full_disk_mid_batch(tmp_path, data, tmpfs, predict, capsys):
    disk = tmpfs("20k")  # room for the marker and about one image's files
    out = disk / "out"
    code, text, err = predict(str(data), "--out", str(out))
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert text.startswith(("0 predicted", "1 predicted", "2 predicted"))
    assert "no image has a result" not in text or text.startswith("0 predicted")
    _assert_consistent(out)
    done = len(list((out / "predictions").glob("*.json")))
    shutil.copytree(out, tmp_path / "bigger")  # more room: the same command finishes the rest
    code, text, _ = predict(str(data), "--out", str(tmp_path / "bigger"))
    assert code == 0 and text.startswith(f"{3 - done} predicted, {done} already done, 0 failed")


# --- crafted DICOM strings (issue 10.15) ----------------------------------------------------


def test_info_escapes_control_characters_from_the_file(tmp_path, data, capsys):
    import pydicom

    ds = pydicom.dcmread(next(data.glob("*.dcm")))
    ds.Modality = "DX\x1b[31m\nFAKE-LINE\r\x07"
    ds.PatientID = "\x1b]0;pwned\x07\u202eevil"
    crafted = tmp_path / "crafted\x1b[2J.dcm"
    ds.save_as(crafted, enforce_file_format=True)
    code, out, _ = run_apn(capsys, "info", str(crafted))
    assert code == 0
    assert not any(c in out for c in "\x1b\r\x07\u202e")
    assert "\\x1b[31m\\nFAKE-LINE\\r\\x07" in out  # shown escaped, on its own line
    assert all(line.startswith(("  ", str(tmp_path))) for line in out.splitlines())
    code, out, _ = run_apn(capsys, "info", str(crafted), "--json")
    assert code == 0 and "\x1b" not in out and ("\\u001b[31m" in out or "\\\\x1b[31m" in out)


def test_text_from_a_crafted_record_is_escaped_in_the_summary(tmp_path, predicted_one, predict):
    import json

    image, original = predicted_one
    out = shutil.copytree(original, tmp_path / "out")
    record = read_record(out, "synth_21_0000.dcm")
    record["model"] = {"name": "\x1b[2J\x1b[31mevil\nline", "weights_sha256": "0" * 64}
    record_path(out, "synth_21_0000.dcm").write_text(json.dumps(record))
    code, text, _ = predict(str(image), "--out", str(out))
    assert code == 0 and "made by another model (\\x1b[2J\\x1b[31mevil\\nline)" in text
    assert "\x1b" not in text
