"""``apn train --config FILE`` and ``--set SECTION.KEY=VALUE``: how a run's configuration is built."""

from __future__ import annotations

import json

import pytest

from apn_core import runs
from apn_core.cli.main import main
from apn_core.cli.train import base_config
from apn_core.config import ConfigError
from apn_core.errors import FileProblem
from apn_core.presets import get_preset


def test_partial_config_file_is_laid_over_its_preset(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"preset": "tiny", "train": {"epochs_pretrain": 3}}))
    config = base_config(None, path)
    tiny = get_preset("tiny")
    assert config.preset == "tiny"
    assert config.train.epochs_pretrain == 3
    assert config.train.epochs_adversarial == tiny.train.epochs_adversarial
    assert config.geometry == tiny.geometry


def test_full_config_json_of_a_run_round_trips(tmp_path):
    original = get_preset("tiny").replace(loss={"sigma": 2.0})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(original.to_dict()))
    assert base_config("default", path).to_dict() == original.to_dict()


def test_settings_change_typed_values_and_name_bad_keys():
    config = get_preset("tiny").with_settings(
        ["train.lr=0.001", "augment.scale=[0.8, 1.2]", "augment.enabled=false"]
    )
    assert config.train.lr == pytest.approx(1e-3)
    assert config.augment.scale == (0.8, 1.2)
    assert config.augment.enabled is False
    with pytest.raises(ConfigError, match="unknown section 'trian'"):
        get_preset("tiny").with_settings(["trian.lr=1"])
    with pytest.raises(ValueError, match=r"not SECTION\.KEY=VALUE"):
        get_preset("tiny").with_settings(["train.lr"])
    with pytest.raises(ValueError, match="unknown train setting"):
        get_preset("tiny").with_settings(["train.learning_rate=1"])


def test_unreadable_config_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "cfg.json"
    bad.write_text("{not json")
    with pytest.raises(FileProblem, match="cannot read the configuration"):
        base_config(None, bad)
    code = main(["train", str(tmp_path), "--out", str(tmp_path / "run"), "--config", str(bad)])
    assert code == 2
    assert capsys.readouterr().err.startswith(f"apn: error: {bad}: cannot read the configuration")


def test_config_file_values_are_checked_naming_the_file(tmp_path, capsys):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"preset": "tiny", "geometry": {"height": 0}}))
    code = main(["train", str(tmp_path), "--out", str(tmp_path / "run"), "--config", str(path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"apn: error: {path}: invalid configuration: geometry.height must be")
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_config_file_with_an_unknown_preset_or_no_object(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"preset": "huge"}))
    with pytest.raises(FileProblem, match="unknown preset 'huge'"):
        base_config(None, path)
    path.write_text("[1, 2]")
    with pytest.raises(FileProblem, match="must hold a JSON object"):
        base_config(None, path)


BAD_OPTIONS = [
    (["--lr", "nan"], "argument --lr: 'nan' is not a finite number"),
    (["--lr", "0"], "argument --lr: '0': must be greater than 0"),
    (["--input", "0x0"], "argument --input: '0x0' is not HEIGHTxWIDTH"),
    (["--input", "5x"], "argument --input: '5x' is not HEIGHTxWIDTH"),
    (["--input", "512"], "argument --input: '512' is not HEIGHTxWIDTH"),
    (["--val-fraction", "1.5"], "argument --val-fraction: '1.5': must be within 0 and 1"),
    (["--val-fraction", "1"], "argument --val-fraction: '1': must be at least 0 and less than 1"),
    (["--epochs-pretrain", "-1"], "argument --epochs-pretrain: '-1': must be 0 or more"),
    (["--epochs-adversarial", "1.5"], "argument --epochs-adversarial: '1.5' is not a whole"),
    (["--batch-size", "0"], "argument --batch-size: '0': must be at least 1"),
    (["--workers", "-1"], "argument --workers: '-1': must be 0 or more"),
    (["--seed", "1_000"], "argument --seed: '1_000' is not a whole number"),
    (["--sigma", "-2"], "argument --sigma: '-2': must be greater than 0"),
    (["--alpha", "inf"], "argument --alpha: 'inf' is not a finite number"),
    (["--tolerance", "0"], "argument --tolerance: '0': must be greater than 0"),
    (["--max-minutes", "0"], "argument --max-minutes: '0': must be greater than 0"),
    (["--stride", "3"], "argument --stride: invalid choice: 3"),
    (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
]


@pytest.mark.parametrize(
    ("options", "message"), BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS]
)
def test_numeric_options_are_checked_when_parsed(options, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", str(tmp_path), "--out", str(tmp_path / "run"), *options])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"apn train: error: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--input", "510x192"],
            "--input 510x192: geometry.height must be a multiple of geometry.stride (4)",
        ),
        (
            ["--input", "16x16", "--stride", "8"],
            "--input 16x16 --stride 8: geometry.height must be at least 32",
        ),
        (
            ["--epochs-pretrain", "0", "--epochs-adversarial", "0"],
            "train.epochs_pretrain + train.epochs_adversarial must be at least 1",
        ),
        (
            ["--set", "train.batch_size=0"],
            "--set: train.batch_size must be a whole number in [1, 4096] (got 0)",
        ),
        (["--set", "geometry.hieght=5"], "--set: unknown geometry setting(s): hieght"),
    ],
)
def test_settings_that_only_fail_together_are_one_clear_error(
    options, message, synth_folder, tmp_path, capsys
):
    code = main(
        ["train", str(synth_folder), "--out", str(tmp_path / "run"), "--preset", "tiny", *options]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"apn: error: {message}"), err
    assert not runs.has_any_checkpoint(tmp_path / "run")


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(["train", str(tmp_path), "--out", str(tmp_path / "run"), "--device", "cuda"])
    assert code == 2
    assert capsys.readouterr().err.startswith("apn: error: --device: CUDA was asked for but no GPU")


def test_no_exit_strings_in_training_code():
    """Errors are ApnError (exit 2, one line) or argparse errors, never SystemExit strings."""
    from pathlib import Path

    import apn_core

    root = Path(apn_core.__file__).parent
    files = [
        root / "cli" / "train.py",
        *(root / "train").glob("*.py"),
        root / "runs.py",
        root / "config.py",
    ]
    files += [root.parents[1] / "scripts" / n for n in ("bundle_model.py", "plot_training.py")]
    for path in files:
        assert "raise SystemExit(" not in path.read_text(), path


def test_init_lays_the_model_settings_between_preset_and_file(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"train": {"epochs_pretrain": 3}, "geometry": {"height": 256}}))
    config = base_config(None, path, "default")
    finetune = get_preset("finetune")
    assert config.preset == "finetune"
    assert config.train.epochs_pretrain == 3  # the file wins
    assert config.train.lr == finetune.train.lr  # the preset's schedule
    assert (config.geometry.height, config.geometry.width) == (256, 192)  # file over the model
    assert config.generator == get_preset("default").generator
