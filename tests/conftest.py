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

# The bundled model was trained on the first generator's ankle; the generator now draws the
# real films' ankle and foot (issue 20 item 4, docs/ankle_investigation.md), and the bundled
# model puts those phantoms' ankles ~20 mm low — the failure it shows on real films. These
# tests measure the bundled model on freshly rendered phantoms, so they fail until it is
# retrained on the current generator (issue 20 item 2). Strict: once it is, they report
# XPASS as a failure and this list must go.
BUNDLED_MODEL_PREDATES_THE_ANKLE = (
    "tests/core/test_bundled_model.py::test_bundled_model_reaches_documented_accuracy",
    "tests/core/test_bundled_model.py::test_bundled_model_holds_up_on_the_family_it_never_saw",
    "tests/core/test_bundled_model.py::test_demo_main_job",
    "tests/plugin/test_detect.py::test_detect_on_sample_twice_gives_six_points_near_truth_without_duplicates",
    "tests/plugin/test_detect.py::test_detect_on_a_layer_without_spacing_gives_positions_but_no_mm",
    "tests/plugin/test_annotate.py::test_the_least_certain_image_comes_first_and_predictions_are_cached",
    "tests/plugin/test_annotate.py::test_least_certain_first_sorts_by_the_uncertainty_column",
    "tests/plugin/test_alignment.py::test_a_flagged_landmark_is_not_measured_until_it_is_moved",
    "tests/core/test_calibration.py::test_a_clean_folder_gets_a_way_forward_and_perturb_standard_takes_it",
)


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.nodeid.split("[")[0] in BUNDLED_MODEL_PREDATES_THE_ANKLE:
            reason = "bundled model predates the generator's ankle (see tests/conftest.py)"
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))


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
