import json

import pytest

from apn_core.config import RunConfig
from apn_core.landmarks import LandmarkSet
from apn_core.presets import get_preset


def test_run_config_round_trips_through_json():
    cfg = get_preset("seed").replace(train={"lr": 1e-4}, loss={"tolerance_mm": 7.5})
    cfg.landmarks = LandmarkSet(("a", "b"), (("a", "b"),), name="toy")
    back = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg
    assert (
        back.train.lr == 1e-4 and back.loss.tolerance_mm == 7.5 and back.augment.scale == (0.9, 1.1)
    )


def test_unknown_settings_and_bad_geometry_are_rejected():
    with pytest.raises(ValueError, match="unknown train setting"):
        RunConfig.from_dict({"train": {"learning_rate": 1}})
    with pytest.raises(ValueError, match="stride"):
        get_preset("default").replace(geometry={"stride": 3})
    with pytest.raises(ValueError, match="multiples"):
        get_preset("default").replace(geometry={"height": 510})
