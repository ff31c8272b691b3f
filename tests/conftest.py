"""Shared fixtures: small synthetic labelled folders and the optional ../shared folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (CI and developers); skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this checkout")
    return SHARED


@pytest.fixture(scope="session")
def synth_folder(tmp_path_factory) -> Path:
    """Six coarse synthetic radiographs (1 mm/px) with every format and some occlusions."""
    from apn_core.synth import SynthConfig, write_synthetic_folder

    out = tmp_path_factory.mktemp("synth")
    config = SynthConfig(spacing_mm=1.0, hip_prosthesis_fraction=0.3, knee_prosthesis_fraction=0.3)
    return write_synthetic_folder(out / "data", n=6, seed=11, config=config)
