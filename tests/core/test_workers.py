"""Worker processes under every start method (issue 18.3): ``apn train`` (fine-tuning and
``--unlabelled`` included) and ``apn predict`` with ``--workers 2``.

``apn train`` crashed under ``spawn`` — the default on macOS and Windows — with "Can't
pickle local object 'decode_images.<locals>.<lambda>'", and every test used 0 workers.
The tests marked ``workers`` run with the start method ``APN_START_METHOD`` names (the
platform's default when unset); CI runs them again with ``--start-method spawn``
(``.ci/run``). The first test always uses ``spawn``, whatever the platform.
"""

from __future__ import annotations

import multiprocessing

import pytest

from apn_core.cli.main import main
from apn_core.synth import SynthConfig, write_synthetic_folder
from apn_core.utils.workers import START_METHOD_ENV, start_method

pytestmark = pytest.mark.workers
SMALL = ["--preset", "tiny", "--input", "96x48", "--batch-size", "1", "--val-fraction", "0.34"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Three labelled radiographs, two unlabelled ones."""
    root = tmp_path_factory.mktemp("workers")
    clean = SynthConfig(spacing_mm=2.0, hip_prosthesis_fraction=0, knee_prosthesis_fraction=0)
    data = write_synthetic_folder(root / "data", 3, seed=2, config=clean)
    pool = write_synthetic_folder(root / "pool", 2, seed=3, config=clean)
    (pool / "landmarks.csv").unlink()
    return data, pool


def test_image_decoding_workers_start_under_spawn(folders, tmp_path, monkeypatch):
    from apn_core.config import GeometryConfig
    from apn_core.dataset import find_images
    from apn_core.train.data import decode_images

    monkeypatch.setenv(START_METHOD_ENV, "spawn")
    paths = list(find_images(folders[0]))
    images, kept, skipped = decode_images(paths, GeometryConfig(96, 48, 4), tmp_path, workers=2)
    assert kept == [0, 1, 2] and skipped == [] and images[0].shape == (96, 48)


def test_train_finetune_and_predict_with_two_workers(folders, tmp_path, capsys):
    """The same worker code as on macOS/Windows when ``APN_START_METHOD=spawn``."""
    data, pool = folders
    method = start_method() or multiprocessing.get_start_method()
    run = tmp_path / "run"
    args = ["train", str(data), "--out", str(run), *SMALL, "--workers", "2"]
    args += ["--epochs-pretrain", "1", "--epochs-adversarial", "1", "--unlabelled", str(pool)]
    assert main(args) == 0, f"apn train --workers 2 under {method}"
    tuned = tmp_path / "tuned"
    args = ["train", str(data), "--out", str(tuned), "--init", str(run), "--workers", "2"]
    args += ["--epochs-pretrain", "1", "--epochs-adversarial", "0", "--val-fraction", "0.34"]
    assert main(args) == 0, f"fine-tuning with --workers 2 under {method}"
    out = tmp_path / "out"
    args = ["predict", str(data), "--model", str(tuned), "--out", str(out), "--workers", "2"]
    assert main([*args, "--no-flip"]) == 0, f"apn predict --workers 2 under {method}"
    assert len(list((out / "predictions").glob("*.json"))) == 3


def test_an_unknown_start_method_is_a_clear_error(monkeypatch):
    from apn_core.errors import ApnError

    monkeypatch.setenv(START_METHOD_ENV, "thread")
    with pytest.raises(ApnError, match="APN_START_METHOD='thread': use one of"):
        start_method()
