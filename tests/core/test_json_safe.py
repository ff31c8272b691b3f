"""One JSON sanitiser for records, reports, calibration files and progress events."""

from __future__ import annotations

import json
import math

import numpy as np

from apn_core.utils.json_safe import json_safe


def test_json_safe_turns_missing_and_numpy_values_into_plain_json():
    value = {
        "nan": math.nan,
        "inf": -math.inf,
        1: (np.float32(1.5), np.int64(3), np.bool_(True)),
        "array": np.array([[0.5, np.nan]]),
        "nested": [{"x": np.float64("inf")}],
        "text": "ok",
    }
    text = json.dumps(json_safe(value), allow_nan=False)
    assert json.loads(text) == {
        "nan": None,
        "inf": None,
        "1": [1.5, 3, True],
        "array": [[0.5, None]],
        "nested": [{"x": None}],
        "text": "ok",
    }
