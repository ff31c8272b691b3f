"""Where model weights come from: a run folder, or a model bundled inside the package.

Bundled models are registered by key with the SHA-256 of their weights, checked on load
(a damaged install is reported, never silently used). The bundled folder is a run folder
holding ``config.json`` and ``model.safetensors`` (generator + confidence discriminator).
Weights are safetensors: loading never executes code. File names of run folders are
:mod:`apn_core.runs`' business.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from apn_core import runs
from apn_core.config import RunConfig
from apn_core.errors import FileProblem

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "bundled"
BUNDLED = {  # key → (folder under apn_core/bundled, sha256 of model.safetensors)
    "default": ("default", "ec178b38797659ae9961bc2c13d895eb7dedfcc64be89ae8b7ead717cf078828"),
}
BUNDLED_WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class ModelSource:
    """A model's checked config, its weights file and a name for messages and records
    (``bundled:default`` or the run folder)."""

    config: RunConfig
    weights: Path
    name: str


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve(model: str | Path, tag: str = "best") -> ModelSource:
    """``"default"`` (or another bundled key) or a run folder → config and weights file.

    A run folder gives its ``tag`` weights, else its ``last`` ones.
    """
    key = str(model)
    if key in BUNDLED:
        folder_name, digest = BUNDLED[key]
        folder = BUNDLED_DIR / folder_name
        weights = folder / BUNDLED_WEIGHTS
        if not weights.exists():
            raise FileProblem(weights, f"bundled model {key!r} is not installed with this package")
        if sha256(weights) != digest:
            raise FileProblem(
                weights,
                f"bundled model {key!r} is damaged (checksum mismatch); reinstall napari-apn",
            )
        return ModelSource(runs.load_config(folder), weights, f"bundled:{key}")
    run = Path(model)
    if not run.is_dir():
        raise FileProblem(
            run, f"no such run folder, and not a bundled model ({', '.join(BUNDLED)})"
        )
    config = runs.load_config(run)
    for candidate in dict.fromkeys((tag, "last")):
        if runs.has_checkpoint(run, candidate):
            return ModelSource(config, runs.weights_path(run, candidate), str(run))
    raise FileProblem(run, f"no {tag} or last weights in the run folder (nothing trained yet)")
