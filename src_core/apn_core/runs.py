"""The run-folder format, owned here: training, inference, the model store and the napari
plugin call these functions; nothing else knows the file names.

Weights are safetensors; optimizer/loop state goes through ``torch.save`` and is only ever
loaded with ``weights_only=True`` — loading never executes code from a file.

    RUN/config.json          the RunConfig (+ software version)
    RUN/last.safetensors     generator, pose and confidence weights ("<net>.<param>")
    RUN/last_state.pt        optimizers, epoch/step, best score, elapsed time
    RUN/best.safetensors     weights of the epoch with the lowest validation MRE
    RUN/best_state.pt
    RUN/log.jsonl            one JSON line per epoch
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from apn_core.config import RunConfig
from apn_core.errors import FileProblem
from apn_core.utils.atomic import atomic_path, write_text_atomic

CONFIG = "config.json"
LOG = "log.jsonl"
SPLIT = "split.json"
CACHE = "cache"


def is_run(path: str | Path) -> bool:
    """True when ``path`` is a run folder (it has a ``config.json``)."""
    return (Path(path) / CONFIG).is_file()


def has_checkpoint(run: str | Path, tag: str = "last") -> bool:
    """True when the run holds the ``tag`` checkpoint's weights."""
    return weights_path(Path(run), tag).is_file()


def cache_dir(run: str | Path) -> Path:
    return Path(run) / CACHE


def write_split(run: str | Path, split: dict) -> None:
    write_text_atomic(Path(run) / SPLIT, json.dumps(split, indent=2))


def weights_path(run: Path, tag: str) -> Path:
    return Path(run) / f"{tag}.safetensors"


def state_path(run: Path, tag: str) -> Path:
    return Path(run) / f"{tag}_state.pt"


def save_config(run: Path, config: RunConfig) -> None:
    write_text_atomic(Path(run) / CONFIG, json.dumps(config.to_dict(), indent=2))


def load_config(run: Path) -> RunConfig:
    path = Path(run) / CONFIG
    try:
        return RunConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise FileProblem(run, f"not a run folder (no {CONFIG})") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise FileProblem(path, f"invalid run configuration ({exc})") from None


def save_checkpoint(run: Path, tag: str, weights: dict[str, torch.Tensor], state: dict) -> None:
    """Write ``<tag>.safetensors`` (flat ``"<network>.<param>"`` weights) and
    ``<tag>_state.pt`` atomically (weights first)."""
    from safetensors.torch import save_file

    with atomic_path(weights_path(run, tag)) as tmp:
        save_file(weights, str(tmp), metadata={"format": "napari-apn", "tag": tag})
    with atomic_path(state_path(run, tag)) as tmp:
        torch.save(state, tmp)


def load_weights(run: Path, tag: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = weights_path(run, tag)
    if not path.exists():
        raise FileProblem(path, "checkpoint not found")
    try:
        return load_file(str(path))
    except Exception as exc:
        raise FileProblem(path, f"unreadable weights ({exc})") from None


def load_state(run: Path, tag: str) -> dict:
    path = state_path(run, tag)
    if not path.exists():
        raise FileProblem(path, "training state not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise FileProblem(path, f"unreadable training state ({exc})") from None


def append_log(run: Path, record: dict) -> None:
    """Append one JSON line (a crash can lose at most the line being written)."""
    with open(Path(run) / LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


def read_log(run: Path) -> list[dict]:
    path = Path(run) / LOG
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash
    return out
