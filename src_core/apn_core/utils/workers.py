"""Worker processes started as on every platform, and the one place DataLoaders are made.

apn reads images in ``torch`` DataLoader worker processes (training's image cache,
``apn predict``). Python starts them with the platform's default method: ``fork`` on Linux,
``spawn`` on macOS and Windows. Under ``spawn`` everything handed to a worker is pickled,
so nothing local may cross the process boundary — no lambdas, closures or local classes:
datasets and collate functions are module-level, and hold plain data (paths, configs),
not models.

``APN_START_METHOD=spawn`` (or ``forkserver``, ``fork``) makes apn start its workers that
way on any platform: CI runs the training and prediction tests with it, so the macOS and
Windows behaviour is tested on Linux.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any

from apn_core.errors import ApnError

START_METHOD_ENV = "APN_START_METHOD"


def start_method() -> str | None:
    """The start method asked for by ``APN_START_METHOD``, or None (the platform's)."""
    method = os.environ.get(START_METHOD_ENV, "").strip()
    if not method:
        return None
    allowed = multiprocessing.get_all_start_methods()
    if method not in allowed:
        raise ApnError(
            f"{START_METHOD_ENV}={method!r}: use one of {', '.join(allowed)} (or leave it unset)"
        )
    return method


def data_loader(
    dataset, workers: int, batch_size: int = 1, collate_fn: Callable[[list], Any] | None = None
):
    """A DataLoader over ``dataset`` with ``workers`` processes (0: in this process),
    started by :func:`start_method`. ``dataset`` and ``collate_fn`` must be picklable
    (module-level) — the test suite runs them under ``spawn``."""
    from torch.utils.data import DataLoader

    context = start_method() if workers > 0 else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate_fn,
        multiprocessing_context=context,
    )


def first(batch: list):
    """The collate function of a loader of batch size 1: the item itself."""
    return batch[0]


def as_list(batch: list) -> list:
    """The collate function that keeps a batch as the list of its items."""
    return batch
