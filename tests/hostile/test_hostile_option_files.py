"""Files named by an option or found by name (``--calibration``, ``--config``,
``--landmarks``, run folder JSON, the napari reader's landmark files, the Annotate state
file) are asked what they are before they are read: a FIFO or ``/dev/zero`` must never
hang a command or napari, deep JSON never ends in a RecursionError, and a landmark set
or table that means something else than it seems is refused naming the problem.
(Hardening round 2, issue 19.)"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from apn_core.annotations import read_landmarks_csv, read_markups
from apn_core.cli.main import main
from apn_core.errors import AnnotationError, FileProblem
from apn_core.inference.calibration import load_calibrator
from apn_core.io import write_dicom
from apn_core.landmarks import DEFAULT_LANDMARKS as LM
from apn_core.landmarks import LandmarkSet
from tests.hostile.crafted import small_image

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")
DEEP = "[" * 100_000 + "]" * 100_000


def _apn(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


@pytest.fixture
def data(tmp_path):
    """A one-image labelled folder (enough for ``apn check``)."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_dicom(folder / "a.dcm", small_image(), (0.5, 0.5))
    (folder / "landmarks.csv").write_text("image,landmark,x,y\na.dcm,femur_right,3,4\n")
    return folder


def _special(tmp_path, kind: str):
    """A FIFO, or a link to /dev/zero, named like an option file."""
    path = tmp_path / f"{kind}.json"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    return path


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_option_files_that_are_not_regular_files_never_hang(tmp_path, data, kind, capsys, deadline):
    special = _special(tmp_path, kind)
    deadline(20)
    code, err = _apn(capsys, "check", data, "--landmarks", special)
    assert code == 2
    assert f"apn: error: {special}: not a landmark set file (not a regular file" in err
    code, err = _apn(
        capsys, "train", data, "--out", tmp_path / "run", "--config", special, "--preset", "tiny"
    )
    assert code == 2 and f"apn: error: {special}: not a regular file" in err
    with pytest.raises(FileProblem, match="not a regular file"):
        load_calibrator(special)
    assert "Traceback" not in err


@posix_only
def test_predict_with_a_fifo_calibration_is_refused(tmp_path, data, capsys, deadline):
    special = _special(tmp_path, "fifo")
    deadline(30)
    code, err = _apn(
        capsys, "predict", data / "a.dcm", "--out", tmp_path / "out", "--calibration", special
    )
    assert code == 2 and "not a regular file" in err


def test_deep_json_is_a_sentence_never_a_recursion_error(tmp_path, data, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    code, err = _apn(capsys, "check", data, "--landmarks", deep)
    assert code == 2 and "nested too deeply" in err
    with pytest.raises(FileProblem, match="nested too deeply"):
        load_calibrator(deep)
    (tmp_path / "m.mrk.json").write_text(DEEP)
    with pytest.raises(AnnotationError, match="nested too deeply"):
        read_markups(tmp_path / "m.mrk.json", LM, (1.0, 1.0))
    # deeper than the project's files ever nest, yet shallow enough for json itself
    from apn_core.utils.files import read_json

    (tmp_path / "d.json").write_text("[" * 500 + "]" * 500)
    with pytest.raises(FileProblem, match="more than 64 levels"):
        read_json(tmp_path / "d.json", "test file")


def test_a_set_value_nested_deeply_is_refused(tmp_path, data, capsys):
    code, err = _apn(
        capsys,
        "train",
        data,
        "--out",
        tmp_path / "run",
        "--preset",
        "tiny",
        "--set",
        "train.lr=" + "[" * 20_000 + "]" * 20_000,
    )
    assert code == 2 and "nested too deeply" in err


def test_reads_are_bounded_whatever_the_size_says(tmp_path):
    from apn_core.utils.files import read_json, read_text

    big = tmp_path / "big.json"
    big.write_bytes(b" " * (2 << 20) + b"{}")
    with pytest.raises(FileProblem, match="more than 1,048,576 bytes"):
        read_json(big, "configuration")
    (tmp_path / "latin.csv").write_bytes("image,landmark,x,y\né".encode("latin-1"))
    with pytest.raises(FileProblem, match="not UTF-8"):
        read_text(tmp_path / "latin.csv")


# ---------------------------------------------------------------- the napari side


@posix_only
@pytest.mark.parametrize("name", ["landmarks.csv", "leg.mrk.json", "leg.csv"])
def test_napari_reader_declines_a_fifo_at_once(tmp_path, name, deadline):
    from napari_apn._reader import get_reader

    os.mkfifo(tmp_path / name)
    deadline(5)  # a hang would be cut here, and swallowed as an OSError by the reader:
    started = time.monotonic()  # so the time it took is what tells
    assert get_reader(str(tmp_path / name)) is None
    assert time.monotonic() - started < 2


def test_napari_reader_declines_deep_json(tmp_path):
    from napari_apn._reader import get_reader

    (tmp_path / "leg.mrk.json").write_text(DEEP)
    assert get_reader(str(tmp_path / "leg.mrk.json")) is None


@posix_only
@pytest.mark.parametrize("content", ["fifo", "deep"])
def test_annotate_state_file_that_cannot_be_used_starts_afresh(tmp_path, content, deadline):
    from napari_apn._annotate_state import STATE_FILE, State, read_state

    if content == "fifo":
        os.mkfifo(tmp_path / STATE_FILE)
    else:
        (tmp_path / STATE_FILE).write_text(DEEP)
    deadline(5)
    state, warning = read_state(tmp_path)
    assert state == State()
    assert warning and STATE_FILE in warning
    assert ("not a regular file" if content == "fifo" else "nested too deeply") in warning


# ---------------------------------------------------------------- landmark sets


@pytest.mark.parametrize(
    "content, fragment",
    [
        ({"names": "abc"}, "'names' must be a list"),
        (
            {"names": ["a", "b", "c"], "mirror_pairs": [["a", "b"], ["b", "c"]]},
            "b is in two mirror pairs",
        ),
        ({"names": ["a", "b"], "mirror_pairs": [["a", "a"]]}, "with itself"),
        ({"names": ["a", "b"], "mirror_pair": [["a", "b"]]}, "unknown key(s) 'mirror_pair'"),
        ({"names": ["a", "b"], "mirror_pairs": [["a", "b", "a"]]}, "[name, name] pairs"),
        (["a", "b"], "JSON object"),
    ],
)
def test_landmark_sets_that_mean_something_else_are_refused(
    tmp_path, data, capsys, content, fragment
):
    path = tmp_path / "set.json"
    path.write_text(json.dumps(content))
    code, err = _apn(capsys, "check", data, "--landmarks", path)
    assert code == 2 and err.startswith(f"apn: error: {path}: not a landmark set file")
    assert fragment in err


def test_a_landmark_in_two_mirror_pairs_is_refused_in_code_too():
    with pytest.raises(ValueError, match="two mirror pairs"):
        LandmarkSet(("a", "b", "c"), (("a", "b"), ("c", "a")))


# ---------------------------------------------------------------- CSV headers


def test_a_double_byte_order_mark_is_read_as_one(tmp_path):
    csv = tmp_path / "landmarks.csv"
    csv.write_bytes("\ufeff\ufeffimage,landmark,x,y\na.dcm,knee_left,1,2\n".encode())
    labels = read_landmarks_csv(csv, LM)
    assert list(labels) == ["a.dcm"]
    assert labels["a.dcm"].xy[LM.index("knee_left")].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("reader", ["landmarks", "napari"])
def test_a_column_named_twice_is_refused_naming_it(tmp_path, reader):
    from apn_core.annotations import read_napari_points

    csv = tmp_path / "a.csv"
    if reader == "landmarks":
        csv.write_text("image,landmark,x,y,x\na.dcm,knee_left,1,2,400\n")
        with pytest.raises(AnnotationError, match="column 'x' appears twice"):
            read_landmarks_csv(csv, LM)
    else:
        csv.write_text("index,label,axis-0,axis-1,axis-0\n0,knee_left,1,2,300\n")
        with pytest.raises(AnnotationError, match="column 'axis-0' appears twice"):
            read_napari_points(csv, LM)
