"""The models the widgets run, loaded once per napari session (no Qt).

A model is ``"default"`` (the bundled one) or a run folder. It is loaded through one
cache keyed on its **weights file and its calibration file** (path, size and modification
time of each): a run retrained or resumed in this session, or calibrated by ``apn
calibrate`` after it was first used, is loaded again, so Detect shows calibrated
confidences and Annotate stores them under the identity of the calibrated model. Every
widget (Detect, Annotate, the console's :func:`napari_apn.detect`) asks here.
"""

from __future__ import annotations

import gc
import logging
import threading
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)
DEFAULT = "default"  # the bundled model's key
_LOADING = threading.RLock()  # one load (and the warm-up's first run) at a time
_ASKED = threading.Event()  # a prediction was asked for (ever): warm-ups only load

Stamp = tuple  # (weights path, size, mtime ns, calibration path or "", size, mtime ns)


def _file_stamp(path: Path) -> tuple[str, int, int]:
    """``(absolute path, size, mtime ns)``; ``("", 0, 0)`` when there is no such file."""
    try:
        st = path.stat()
    except OSError:
        return ("", 0, 0)
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def model_files(model: str) -> tuple[Path, Path]:
    """``(weights, calibration)`` files of a model (the calibration file may not exist: an
    uncalibrated model). :class:`~apn_core.errors.FileProblem` when the model is not found."""
    from apn_core import runs
    from apn_core.inference.model_store import resolve

    weights = resolve(model).weights
    return weights, weights.parent / runs.CALIBRATION


def model_stamp(model: str) -> Stamp:
    """What the cache is keyed on: the weights and calibration files' path, size, mtime."""
    weights, calibration = model_files(model)
    return (*_file_stamp(weights), *_file_stamp(calibration))


def predictor(model: str = DEFAULT):
    """The loaded model (an :class:`apn_core.inference.Predictor`), from the cache unless
    its weights or calibration changed since it was loaded."""
    _ASKED.set()
    return _cached(str(model))


def _cached(model: str):
    stamp = model_stamp(model)
    with _LOADING:
        return _load(model, stamp)


@lru_cache(maxsize=4)
def _load(model: str, _stamp: Stamp):
    from apn_core.inference import Predictor

    return Predictor.load(model)


def clear_cache() -> None:
    """Forget every loaded model (tests; a new napari session)."""
    _load.cache_clear()


@lru_cache(maxsize=16)
def _file_digest(path: str, _size: int, _mtime_ns: int) -> str:
    from apn_core.inference.model_store import sha256

    return sha256(Path(path))


def model_identity(model: str) -> str:
    """A model's lasting identity: the SHA-256 of its weights, ``+`` that of its
    calibration when it has one (the calibration decides the confidences). Keys the
    Annotate widget's prediction cache on disk. :class:`FileProblem` when not found."""
    weights, calibration = model_files(model)
    identity = _file_digest(*_file_stamp(weights))
    if calibration.is_file():
        identity += "+" + _file_digest(*_file_stamp(calibration))
    return identity


def warm_up(model: str = DEFAULT) -> None:
    """Load ``model`` and run it once on a blank input, and import what the result layers
    need, so that the first Detect pays none of it (torch's import, the weights, the first
    call's setup, pandas for the Points features, a garbage collection: ~2 s on 2 cores).
    Called in a background thread when the Detect widget opens; failures are left for the
    click to report. A click while it runs waits for the load, not for the rest.

    Python's cyclic garbage collector is paused meanwhile: the ~150 000 objects torch's
    import adds made Python run two full collections of napari's heap during the import
    and a third soon after (0.15–0.25 s each, holding the interpreter); one collection at
    the end replaces them.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        with _LOADING:
            import torch

            from apn_core.inference.threads import inference_threads, torch_threads

            loaded = _cached(model)
            if not _ASKED.is_set():
                geometry = loaded.config.geometry
                with torch_threads(inference_threads()):
                    loaded.forward(torch.zeros((1, 1, geometry.height, geometry.width)))
        if not _ASKED.is_set():
            import pandas  # noqa: F401 - napari's Points layer imports it for the features

            import napari_apn._layers  # noqa: F401

            gc.collect()
    except Exception as exc:  # the click reports the same problem, with its file
        log.debug("warm-up of %s failed: %s", model, exc)
    finally:
        if collecting:
            gc.enable()


def start_warm_up(model: str = DEFAULT) -> threading.Thread:
    """:func:`warm_up` in a daemon thread (it never keeps napari from quitting)."""
    thread = threading.Thread(target=warm_up, args=(model,), name="napari-apn warm-up", daemon=True)
    thread.start()
    return thread
