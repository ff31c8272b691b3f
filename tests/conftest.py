"""Shared fixtures: small synthetic labelled folders, one tiny trained run shared by the
read-only training and inference tests, and the optional ../shared folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# One thread per process: the suite's models are tiny, and on a shared 2-core machine
# several OpenMP threads per process contend (a training test ran 12× slower with 2).
# Set before torch is imported; subprocesses (apn train, torchrun) inherit it.
if not os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():  # unset or empty
    os.environ["OMP_NUM_THREADS"] = "1"
if "torch" in sys.modules:  # imported by a plugin before this file: set it directly
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption(
        "--start-method",
        choices=("fork", "spawn", "forkserver"),
        help="start apn's worker processes with this multiprocessing method (sets "
        "APN_START_METHOD, inherited by subprocesses); CI runs -m workers with spawn",
    )


def pytest_configure(config):
    method = config.getoption("--start-method")
    if method:
        os.environ["APN_START_METHOD"] = method


SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (CI and developers); skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this checkout")
    return SHARED


@pytest.fixture
def labelled_folder(tmp_path):
    """A labelled folder (4 images; BOM, CRLF, extra columns, unknown landmarks, quoting)
    whose ``assert_only_image_changed(image)`` checks that a save touched only that
    image's rows: see ``tests/labelled_folder_fixture.py``."""
    from labelled_folder_fixture import make_labelled_folder

    return make_labelled_folder(tmp_path / "labelled")


@pytest.fixture(scope="session")
def synth_folder(tmp_path_factory) -> Path:
    """Six coarse synthetic radiographs (1 mm/px) with every format and some occlusions."""
    from apn_core.synth import SynthConfig, write_synthetic_folder

    out = tmp_path_factory.mktemp("synth")
    config = SynthConfig(spacing_mm=1.0, hip_prosthesis_fraction=0.3, knee_prosthesis_fraction=0.3)
    return write_synthetic_folder(out / "data", n=6, seed=11, config=config)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """``(data, run)``: three synthetic radiographs (2 mm/px, restricted views) and a
    ``tiny`` run trained on them for one supervised and one adversarial epoch.

    Shared by every test that only reads a trained run: do not write into ``run``
    (copy it first); files may be added to ``data`` but none removed or changed.
    """
    from apn_core.presets import get_preset
    from apn_core.synth import SynthConfig, write_synthetic_folder
    from apn_core.train.job import train

    root = tmp_path_factory.mktemp("tiny_run")
    data = write_synthetic_folder(
        root / "data",
        3,
        seed=21,
        config=SynthConfig(
            spacing_mm=2.0, restricted_fraction=0.5, formats=("dicom", "dicom-mono1", "tiff")
        ),
    )
    cfg = get_preset("tiny").replace(
        train={"epochs_pretrain": 1, "epochs_adversarial": 1, "workers": 0}
    )
    assert train(data, root / "run", cfg) == "done"
    return data, root / "run"
