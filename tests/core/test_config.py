"""The configuration tree: JSON round trip, and every value checked for type and range."""

import json

import pytest

from apn_core import runs
from apn_core.config import ConfigError, RunConfig
from apn_core.errors import FileProblem
from apn_core.landmarks import LandmarkSet
from apn_core.presets import PRESETS, get_preset


def test_run_config_round_trips_through_json():
    cfg = get_preset("seed").replace(train={"lr": 1e-4}, loss={"tolerance_mm": 7.5})
    cfg.landmarks = LandmarkSet(("a", "b"), (("a", "b"),), name="toy")
    back = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg
    assert back.train.lr == 1e-4 and back.loss.tolerance_mm == 7.5
    assert back.augment.scale == (0.75, 1.3)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid(name):
    assert RunConfig.from_dict(get_preset(name).to_dict()) == get_preset(name)


BAD = [
    ({"train": {"learning_rate": 1}}, r"unknown train setting\(s\): learning_rate; known: "),
    ({"trian": {"lr": 1}}, r"unknown setting\(s\): trian"),
    ({"geometry": {"stride": 3}}, r"geometry\.stride must be one of 1, 2, 4, 8 \(got 3\)"),
    (
        {"geometry": {"height": 510}},
        r"geometry\.height must be a multiple of geometry\.stride \(4\)",
    ),
    (
        {"geometry": {"width": 0}},
        r"geometry\.width must be a whole number in \[1, 2048\] \(got 0\)",
    ),
    ({"geometry": {"height": 100000}}, r"geometry\.height .* in \[1, 2048\]"),
    ({"geometry": {"height": 8}}, r"geometry\.height must be at least 16"),
    ({"geometry": {"height": "512"}}, r"geometry\.height must be a whole number .*got '512'"),
    ({"geometry": {"height": 512.0}}, r"geometry\.height must be a whole number"),
    ({"generator": {"stacks": 0}}, r"generator\.stacks must be a whole number in \[1, 16\]"),
    ({"generator": {"channels": 100000}}, r"generator\.channels .* in \[8, 1024\]"),
    ({"generator": {"depth": 20}}, r"generator\.depth .* in \[1, 8\]"),
    ({"discriminator": {"layers": 0}}, r"discriminator\.layers"),
    ({"loss": {"sigma": 0}}, r"loss\.sigma must be a finite number in \(0, 20\] \(got 0\)"),
    ({"loss": {"presence_threshold": 1.0}}, r"loss\.presence_threshold .* in \(0, 1\)"),
    ({"loss": {"alpha": -1}}, r"loss\.alpha"),
    ({"train": {"lr": float("nan")}}, r"train\.lr must be a finite number > 0 \(got nan\)"),
    ({"train": {"lr": float("inf")}}, r"train\.lr must be a finite number > 0"),
    ({"train": {"lr": 0}}, r"train\.lr must be a finite number > 0 \(got 0\)"),
    ({"train": {"lr_discriminator": -1e-3}}, r"train\.lr_discriminator"),
    ({"train": {"val_fraction": 1.0}}, r"train\.val_fraction must be a finite number in \[0, 1\)"),
    ({"train": {"val_fraction": -0.1}}, r"train\.val_fraction"),
    ({"train": {"epochs_pretrain": -1}}, r"train\.epochs_pretrain must be a whole number in \[0, "),
    ({"train": {"epochs_pretrain": True}}, r"train\.epochs_pretrain must be a whole number"),
    ({"train": {"epochs_pretrain": 0, "epochs_adversarial": 0}}, r"at least 1 \(nothing to train"),
    ({"train": {"batch_size": 0}}, r"train\.batch_size must be a whole number in \[1, 4096\]"),
    ({"train": {"workers": -1}}, r"train\.workers must be a whole number in \[0, 64\]"),
    ({"train": {"seed": -5}}, r"train\.seed"),
    ({"train": {"max_minutes": 0}}, r"train\.max_minutes must be a finite number > 0 or null"),
    ({"train": {"stop_after_steps": 0}}, r"train\.stop_after_steps"),
    ({"train": {"adversarial": "yes"}}, r"train\.adversarial must be true or false"),
    ({"train": 5}, r"train must be an object of settings"),
    ({"augment": {"scale": [1.2, 0.9]}}, r"augment\.scale must be \[low, high\] with low ≤ high"),
    ({"augment": {"scale": [0.9]}}, r"augment\.scale must be \[low, high\]"),
    ({"augment": {"gamma": [0, 1]}}, r"augment\.gamma .* in \(0, 10\]"),
    ({"augment": {"flip_prob": 1.5}}, r"augment\.flip_prob must be a finite number in \[0, 1\]"),
    ({"augment": {"enabled": 1}}, r"augment\.enabled must be true or false"),
    ({"decoding": "bicubic"}, r"decoding must be one of argmax, quadratic"),
    ({"landmarks": {"names": []}}, r"landmarks: a landmark set needs at least one name"),
    ({"landmarks": {"names": ["a", "a"]}}, r"landmarks: duplicate landmark names"),
    ({"landmarks": ["a"]}, r'landmarks must be an object with a "names" list'),
    ({"preset": ""}, r"preset must be a name"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[str(b[0])[:40] for b in BAD])
def test_bad_values_are_refused_naming_the_setting_and_its_range(change, message):
    with pytest.raises(ConfigError, match=message):
        get_preset("default").replace(**change)
    data = {**get_preset("default").to_dict()}
    for key, value in change.items():
        data[key] = (
            {**data[key], **value}
            if isinstance(value, dict) and isinstance(data.get(key), dict)
            else value
        )
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(data)


def test_good_values_are_coerced_to_their_types():
    cfg = get_preset("default").replace(
        train={"lr": 1, "max_minutes": None}, augment={"scale": [1, 2]}
    )
    assert isinstance(cfg.train.lr, float) and cfg.augment.scale == (1.0, 2.0)


def test_a_run_folder_config_is_checked_on_load(tmp_path):
    """``config.json`` was trusted without bounds: a 0×0 geometry reached the networks."""
    run = tmp_path / "run"
    run.mkdir()
    data = get_preset("tiny").to_dict()
    data["geometry"] = {"height": 0, "width": 0, "stride": 4}
    (run / "config.json").write_text(json.dumps(data))
    with pytest.raises(FileProblem, match=r"config\.json: invalid configuration: geometry\.height"):
        runs.load_config(run)
    (run / "config.json").write_text("[" * 100000 + "]" * 100000)  # deep nesting
    with pytest.raises(FileProblem, match=r"config\.json: cannot read the configuration"):
        runs.load_config(run)
    (run / "config.json").write_text("{}" + " " * (2 << 20))
    with pytest.raises(FileProblem, match="at most"):
        runs.load_config(run)


def test_the_settings_table_lists_every_setting_with_its_range():
    from dataclasses import fields

    from apn_core.config import SECTIONS, settings_table

    table = settings_table()
    for name, cls in SECTIONS.items():
        for f in fields(cls):
            assert f"| `{name}.{f.name}` |" in table
    assert "| `train.val_fraction` | `0.1` | a finite number in [0, 1) |" in table
    assert "| `train.seed` | `0` | a whole number in [0, 2147483647] |" in table
