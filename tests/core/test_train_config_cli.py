"""``apn train --config FILE`` and ``--set SECTION.KEY=VALUE``: how a run's configuration is built."""

from __future__ import annotations

import json

import pytest

from apn_core.cli.main import main
from apn_core.cli.train import base_config
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
    with pytest.raises(ValueError, match="unknown section 'trian'"):
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
