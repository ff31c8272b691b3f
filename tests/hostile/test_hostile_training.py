"""Hostile or unlucky conditions for ``apn train``: a full disk during a checkpoint, a NaN
pixel, damaged or tampered run folders — each one clear error (exit 2), never a lost or
mismatched checkpoint, never NaN weights."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from apn_core import runs
from apn_core.cli.main import main
from apn_core.errors import FileProblem
from apn_core.presets import get_preset
from apn_core.synth import SynthConfig, write_synthetic_folder
from apn_core.train.job import train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_synthetic_folder(
        tmp_path_factory.mktemp("hostile_train") / "data",
        4,
        seed=8,
        config=SynthConfig(spacing_mm=2.0),
    )


def _tiny(**changes):
    return get_preset("tiny").replace(
        train={
            "workers": 0,
            "epochs_pretrain": 2,
            "epochs_adversarial": 0,
            "val_fraction": 0.25,
            **changes,
        }
    )


def _apn(*args, limit_bytes=None, timeout=120):
    """``apn ...`` in a subprocess, optionally unable to write files over ``limit_bytes``
    (RLIMIT_FSIZE: the kernel refuses the write with EFBIG, as a full disk does with ENOSPC)."""

    def limit():
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "apn_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=limit,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_real_write_failure_mid_checkpoint_keeps_the_previous_one(data, tmp_path):
    run = tmp_path / "run"
    assert train(data, run, _tiny(stop_after_steps=1)) == "requested"  # last = after step 1
    before = (run / "last.safetensors").read_bytes()
    size = len(before)
    # the resumed run cannot write a file of the checkpoint's size: its saves fail mid-write
    res = _apn("train", str(data), "--out", str(run), "--resume", limit_bytes=size // 2)
    assert res.returncode == 2, res.stderr
    assert "apn: error:" in res.stderr and "cannot write the checkpoint" in res.stderr
    assert "Traceback" not in res.stderr
    assert (run / "last.safetensors").read_bytes() == before
    assert not [p for p in run.iterdir() if ".tmp" in p.name]
    assert train(data, run, _tiny(), resume=True) == "done"


def test_a_nan_pixel_in_an_image_stops_before_training_naming_it(data, tmp_path):
    import tifffile

    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    tif = sorted(folder.glob("*.tif"))[0]
    pixels = tifffile.imread(tif).astype(np.float32)
    pixels[pixels.shape[0] // 2, pixels.shape[1] // 2] = np.nan
    tifffile.imwrite(tif, pixels)
    args = [
        "--preset",
        "tiny",
        "--workers",
        "0",
        "--spacing",
        "2.0",
    ]  # the rewrite lost its spacing
    res = _apn("train", str(folder), "--out", str(tmp_path / "run"), *args)
    assert res.returncode == 2, res.stderr
    assert tif.name in res.stderr and "Traceback" not in res.stderr
    assert re.search("non-finite|nan", res.stderr, re.IGNORECASE), res.stderr
    assert not runs.has_any_checkpoint(tmp_path / "run")


def test_a_truncated_last_checkpoint_is_refused_on_resume(data, tmp_path):
    run = tmp_path / "run"
    train(data, run, _tiny(stop_after_steps=1))
    blob = (run / "last.safetensors").read_bytes()
    (run / "last.safetensors").write_bytes(blob[: len(blob) // 3])
    with pytest.raises(FileProblem, match=r"last\.safetensors: not a readable safetensors"):
        train(data, run, _tiny(), resume=True)


def test_a_tampered_config_is_refused_on_resume(data, tmp_path, capsys):
    run = tmp_path / "run"
    train(data, run, _tiny(stop_after_steps=1))
    config = json.loads((run / "config.json").read_text())
    config["geometry"]["stride"] = 3
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", str(data), "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"apn: error: {run / 'config.json'}: invalid configuration: geometry.stride"
    )
    config["geometry"]["stride"] = 8  # valid, but not what the checkpoint was trained with
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", str(data), "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert (
        "different configuration" in err
        and "geometry.stride: 4 in the checkpoint, 8 in config.json" in err
    )


def test_options_that_would_change_a_resumed_run_are_refused(data, tmp_path, capsys):
    run = tmp_path / "run"
    train(data, run, _tiny(stop_after_steps=1))
    for extra in (
        ["--input", "512x192"],
        ["--set", "train.lr=1"],
        ["--init", "default"],
        ["--sigma", "2"],
    ):
        assert main(["train", str(data), "--out", str(run), "--resume", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("apn: error: --resume: a run continues with its own configuration"), (
            err
        )


def test_out_that_is_a_file_is_refused(data, tmp_path, capsys):
    (tmp_path / "taken").write_text("not a folder")
    assert main(["train", str(data), "--out", str(tmp_path / "taken"), "--preset", "tiny"]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_out_is_refused_before_training(data, tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        assert main(["train", str(data), "--out", str(parent / "run"), "--preset", "tiny"]) == 2
        assert "cannot write the run folder" in capsys.readouterr().err
    finally:
        parent.chmod(0o700)


def test_a_damaged_cache_file_is_rebuilt(data, tmp_path):
    run = tmp_path / "run"
    train(data, run, _tiny(epochs_pretrain=1))
    for npy in runs.cache_dir(run).glob("*.npy"):
        npy.write_bytes(b"garbage")
    run2 = tmp_path / "run2"
    shutil.copytree(runs.cache_dir(run), runs.cache_dir(run2))
    assert train(data, run2, _tiny(epochs_pretrain=1)) == "done"
    weights = runs.load_weights(run2, "last")
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
