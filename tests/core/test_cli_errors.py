"""The CLI's error contract: every subcommand's bad arguments exit 2 with one clear
message and no traceback; the exit-code table is in ``apn --help``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from apn_core.cli.main import main


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``apn argv`` in-process (argparse exits via SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _gpu_request() -> str:
    import torch

    return f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A readable DICOM, a labelled folder and a plain file to misuse."""
    from apn_core.synth import SynthConfig, write_synthetic_folder

    root = tmp_path_factory.mktemp("errors")
    data = write_synthetic_folder(root / "data", 1, seed=3, config=SynthConfig(spacing_mm=2.0))
    (root / "plain.txt").write_text("not a folder")
    return {
        "DATA": str(data),
        "IMG": str(next(data.glob("*.dcm"))),
        "FILE": str(root / "plain.txt"),
        "MISSING": str(root / "nope"),
        "OUT": str(root / "out"),
    }


# (arguments with placeholders, a fragment the message must contain)
CASES = [
    # predict
    ("predict IMG --out OUT --batch-size 0", "--batch-size: '0': must be at least 1"),
    ("predict IMG --out OUT --workers -1", "--workers: '-1': must be 0 or more"),
    ("predict IMG --out OUT --workers two", "--workers: 'two' is not a whole number"),
    ("predict IMG --out OUT --device GPU_REQUEST", "CUDA GPU"),
    ("predict IMG --out OUT --device tpu", "use cpu, cuda or cuda:N"),
    ("predict IMG --out OUT --spacing -1", "--spacing: spacing '-1' is not positive"),
    ("predict IMG --out OUT --spacing nan", "--spacing: spacing 'nan'"),
    ("predict IMG --out OUT --override-spacing 0", "--override-spacing: spacing '0'"),
    ("predict IMG", "the following arguments are required: --out"),
    ("predict MISSING --out OUT", "nope: no such file or folder"),
    ("predict IMG --out FILE", "plain.txt: exists and is not a folder"),
    ("predict IMG --out OUT --model MISSING", "nope: no such run folder"),
    ("predict DATA --out DATA", "is the input folder itself"),
    # evaluate
    ("evaluate DATA --thresholds ten,20", "--thresholds: 'ten,20': 'ten' is not a number"),
    ("evaluate DATA --thresholds -5", "--thresholds: '-5': '-5': must be greater than 0"),
    ("evaluate DATA --thresholds inf", "'inf' is not a finite number"),
    ("evaluate DATA --thresholds ,", "give one or more distances in mm"),
    ("evaluate DATA --batch-size 0", "--batch-size: '0': must be at least 1"),
    ("evaluate DATA --spacing 0x1", "--spacing: spacing '0x1'"),
    ("evaluate MISSING --out OUT", "nope: folder not found"),
    ("evaluate DATA --out FILE", "plain.txt: exists and is not a folder"),
    ("evaluate DATA --out OUT --model MISSING", "nope: no such run folder"),
    ("evaluate DATA --out DATA", "is the labelled folder itself"),
    ("evaluate DATA --out OUT --pred MISSING", "nope"),
    ("evaluate DATA --model default --pred FILE", "not allowed with argument"),
    # check
    ("check MISSING", "nope: folder not found"),
    ("check FILE", "plain.txt: not a folder"),
    ("check DATA --spacing 1,2,3", "--spacing: spacing '1,2,3'"),
    ("check DATA --landmarks MISSING", "nope: not a landmark set file"),
    # info
    ("info MISSING", "nope: file not found"),
    ("info DATA", "is a folder, not an image file"),
    ("info FILE", "plain.txt"),
    ("info IMG --spacing -0.1", "--spacing: spacing '-0.1'"),
    # demo
    ("demo --index -1", "--index: '-1': must be 0 or more"),
    ("demo --out FILE", "plain.txt: exists and is not a folder"),
    # synth and train (owned elsewhere; the contract is the same)
    ("synth OUT -n 0", "at least 1"),
    ("synth OUT --hip-prosthesis 2", "within 0"),
    ("synth OUT --seed x", "--seed"),
    ("train DATA --out OUT --input 5x", "5x"),
    ("train MISSING --out OUT", "nope"),
    # no subcommand, unknown subcommand
    ("", "required: COMMAND"),
    ("fly", "invalid choice: 'fly'"),
]


@pytest.mark.parametrize(("args", "fragment"), CASES, ids=[c[0] or "(none)" for c in CASES])
def test_bad_arguments_exit_2_with_one_clear_message(args, fragment, files, capsys):
    argv = [files.get(a, a).replace("GPU_REQUEST", _gpu_request()) for a in args.split()]
    code, out, err = _run(argv, capsys)
    assert code == 2, (out, err)
    assert fragment in err, err
    assert "Traceback" not in err + out
    assert err.strip().splitlines()[-1].startswith(("apn: error: ", "apn ", "usage: apn"))


def test_a_traceback_never_reaches_the_user_in_a_real_process(files):
    """The reported case: ``apn evaluate DATA --thresholds ten,20`` printed a traceback."""
    res = subprocess.run(
        [sys.executable, "-m", "apn_core", "evaluate", files["DATA"], "--thresholds", "ten,20"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1] == (
        "apn evaluate: error: argument --thresholds: 'ten,20': 'ten' is not a number "
        "(thresholds are mm > 0)"
    )


def test_check_finding_problems_exits_1_and_a_clean_folder_0(files, tmp_path, capsys):
    assert _run(["check", files["DATA"]], capsys)[0] == 0
    (tmp_path / "landmarks.csv").write_text("image,landmark,x,y\nmissing.dcm,femur_right,1,2\n")
    assert _run(["check", str(tmp_path)], capsys)[0] == 1


def test_help_lists_the_exit_codes(capsys):
    from apn_core.cli.main import EXIT_CODES

    code, out, _ = _run(["--help"], capsys)
    assert code == 0 and EXIT_CODES in out
    for line in ("  0 ", "  1 ", "  2 ", "128+N", "130"):
        assert line in out


def test_predict_help_states_the_spacing_precedence_and_columns_as_built(capsys):
    """After the calibration-object merge, ``apn predict --help`` still said "the file's own,
    the folder's spacing_mm, else --spacing" and listed landmarks.csv without spacing_source."""
    import re

    code, out, _ = _run(["predict", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0
    assert "review_reason,spacing_mm,spacing_source" in text
    order = re.search(r"Pixel spacing: the file's own;.*?--override-spacing", text).group(0)
    assert order.index("landmarks.csv") < order.index("ruler") < order.index("else --spacing")


def test_calibrate_help_keeps_its_example_lines_and_explains_the_false_flag_ceiling(capsys):
    """The docstring's backslash continuation joined the bundled calibration's example into
    one line with a run of spaces ("--model default         --perturb ...")."""
    code, out, _ = _run(["calibrate", "--help"], capsys)
    assert code == 0
    assert "--model default \\\n        --perturb standard,no_leg_thigh,no_leg_shank" in out
    assert "never more than ``--max-false-flags`` (2 %)" in out


def test_thresholds_are_parsed_sorted_and_unique():
    from apn_core.cli.common import thresholds_arg

    assert thresholds_arg("20,10,10") == (10.0, 20.0)
    assert thresholds_arg("2.5") == (2.5,)
