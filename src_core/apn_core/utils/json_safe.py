"""Values made safe for JSON, in one place: records, reports, calibration files.

JSON has no NaN or infinity (Python's ``json`` writes them anyway, as tokens other
readers reject), and numpy scalars are not JSON numbers. :func:`json_safe` turns a tree of
dicts, lists, tuples, numbers and numpy values into plain JSON data: a missing value is
``null``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """A JSON-ready copy of ``value``: NaN/±inf → ``None``, numpy scalars and arrays →
    Python numbers and lists, tuples → lists, dict keys → ``str``; recursively."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
