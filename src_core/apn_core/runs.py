"""The run-folder format, owned here: training, inference, the model store and the napari
plugin call these functions; nothing else knows the file names.

    RUN/config.json         the RunConfig (checked on load) + software version
    RUN/last.safetensors    the checkpoint: weights + optimizer/loop state, ONE file
    RUN/best.safetensors    weights of the best validation epoch (what inference loads)
    RUN/log.jsonl           one JSON line per epoch
    RUN/split.json          which images trained and which validated (and unlabelled ones)
    RUN/cache/              letterboxed training images (float16; safe to delete)
    RUN/.apn-lock           held by the apn train writing the run (apn_core.utils.locks)

A checkpoint is one safetensors file, so weights and training state are published
together by one atomic rename (written to a temporary file, ``fsync``-ed, renamed, the
folder ``fsync``-ed): a crash or a full disk leaves the previous checkpoint, never new
weights beside old state. Network weights are the tensors ``"<network>.<param>"``;
optimizer tensors are ``"state/<i>"``; the metadata holds the loop state and optimizer
settings as JSON (with references to those tensors) and the config the checkpoint was
written with, which ``--resume`` compares with ``config.json``. Nothing is pickled:
loading never executes code. Runs written by napari-apn ≤ 0.1.0 kept the state in a
separate ``<tag>_state.pt``; their weights still load for inference and ``--init``,
but they cannot be resumed.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apn_core.config import ConfigError, RunConfig
from apn_core.errors import FileProblem
from apn_core.utils import files
from apn_core.utils.atomic import atomic_path, write_text_atomic

if TYPE_CHECKING:  # torch loads when weights are read or written, not to list runs
    import torch

log = logging.getLogger(__name__)

CONFIG = "config.json"
CALIBRATION = "calibration.json"  # fitted by apn calibrate (apn_core.inference.calibration)
STALE_CALIBRATION = "calibration.stale.json"  # set aside when training changes the weights
LOG = "log.jsonl"
SPLIT = "split.json"
CACHE = "cache"
TAGS = ("last", "best")
FORMAT = "napari-apn"
FORMAT_VERSION = "2"  # 2: one file per checkpoint (state inside); 1: <tag>_state.pt beside
MAX_CONFIG_BYTES = files.MAX_OPTION_BYTES
_CHUNK = 1 << 20


@dataclass
class Checkpoint:
    """One weights file read back.

    weights: ``"<network>.<param>"`` tensors. state: optimizer and loop state, or ``None``
    for a weights-only file (``best``, a bundled model). config: the config dict it was
    written with (``None`` for older files). meta: the file's other metadata.
    """

    path: Path
    weights: dict[str, torch.Tensor]
    state: dict | None
    config: dict | None
    meta: dict[str, str]


# ----- names ---------------------------------------------------------------------------
def is_run(path: str | Path) -> bool:
    """True when ``path`` is a run folder (it has a ``config.json``)."""
    return (Path(path) / CONFIG).is_file()


def weights_path(run: str | Path, tag: str) -> Path:
    return Path(run) / f"{tag}.safetensors"


def has_checkpoint(run: str | Path, tag: str = "last") -> bool:
    """True when the run holds the ``tag`` weights file (``last``: something to resume)."""
    return weights_path(run, tag).is_file()


def has_any_checkpoint(run: str | Path) -> bool:
    """True when the run holds weights of any tag (it trained at least one epoch or was
    stopped after a step); a run folder without any was stopped before its first one."""
    return any(has_checkpoint(run, tag) for tag in TAGS)


def _legacy_state_path(run: Path, tag: str) -> Path:
    return Path(run) / f"{tag}_state.pt"


def cache_dir(run: str | Path) -> Path:
    return Path(run) / CACHE


# ----- config, split, log --------------------------------------------------------------
def save_config(run: str | Path, config: RunConfig) -> None:
    write_text_atomic(Path(run) / CONFIG, json.dumps(config.to_dict(), indent=2))


def load_config(run: str | Path) -> RunConfig:
    """The run's checked configuration; :class:`FileProblem` on ``config.json`` otherwise."""
    path = Path(run) / CONFIG
    if not path.is_file():
        raise FileProblem(run, f"not a run folder (no {CONFIG})")
    return config_from_file(path)


def config_from_file(path: Path, data: Any = None) -> RunConfig:
    """A checked config from a JSON file (or its already parsed ``data``)."""
    if data is None:
        data = read_json(path, "configuration")
    try:
        return RunConfig.from_dict(data)
    except ConfigError as exc:
        raise FileProblem(path, f"invalid configuration: {exc}") from None


def read_json(path: Path, what: str) -> Any:
    """A small JSON file's content, or :class:`FileProblem` saying why it cannot be read
    (:func:`apn_core.utils.files.read_json`: a regular file of ≤ 1 MiB, bounded depth)."""
    return files.read_json(path, what, MAX_CONFIG_BYTES)


def write_split(run: str | Path, split: dict) -> None:
    write_text_atomic(Path(run) / SPLIT, json.dumps(split, indent=2))


def read_split(run: str | Path) -> dict:
    """The run's ``split.json`` (empty when it has none)."""
    path = Path(run) / SPLIT
    if not path.is_file():
        return {}
    data = read_json(path, "split")
    if not isinstance(data, dict):
        raise FileProblem(path, "a split file must hold a JSON object")
    return data


def append_log(run: str | Path, record: dict) -> None:
    """Append one JSON line (a crash can lose at most the line being written)."""
    with open(Path(run) / LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


def read_log(run: str | Path) -> list[dict]:
    """The epoch records of ``log.jsonl`` (a line cut by a crash is skipped)."""
    path = Path(run) / LOG
    if not path.exists():
        return []
    out = []
    for line in files.read_text(path, "training log", files.MAX_TABLE_BYTES).splitlines():
        try:
            record = files.parse_json(line, path, "training log", allow_constants=True)
        except FileProblem:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def truncate_log(run: str | Path, records: int) -> None:
    """Keep the first ``records`` lines: what a resumed checkpoint had logged (an epoch
    logged after it was saved is run and logged again)."""
    kept = read_log(run)[:records]
    write_text_atomic(Path(run) / LOG, "".join(json.dumps(r) + "\n" for r in kept))


def forget_unstarted(run: str | Path) -> None:
    """Remove what a run stopped before its first checkpoint left (log, split), keeping the
    image cache, so that the folder can be started again."""
    for name in (LOG, SPLIT):
        (Path(run) / name).unlink(missing_ok=True)


# ----- checkpoints ---------------------------------------------------------------------
def save_checkpoint(
    run: str | Path,
    tag: str,
    weights: dict[str, torch.Tensor],
    state: dict | None = None,
    config: RunConfig | None = None,
    meta: dict[str, str] | None = None,
) -> Path:
    """Write ``<tag>.safetensors`` — weights and (optionally) training state as one file —
    durably and atomically; the previous file stays until the new one is complete."""
    from safetensors.torch import save

    tensors = dict(weights)
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "tag": tag, **(meta or {})}
    if config is not None:
        metadata["config"] = json.dumps(config.to_dict())
    if state is not None:
        skeleton, state_tensors = _encode(state)
        clash = set(state_tensors) & set(tensors)
        if clash:
            raise ValueError(f"state tensor names clash with weights: {sorted(clash)[:3]}")
        tensors.update(state_tensors)
        metadata["state"] = json.dumps(skeleton)
    payload = save(tensors, metadata=metadata)
    path = weights_path(run, tag)
    try:  # atomic_path syncs the file and, after the rename, the folder
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            _write_bytes(fh, payload)
    except OSError as exc:
        kept = "the previous checkpoint is kept" if path.exists() else "nothing was written"
        raise FileProblem(
            path, f"cannot write the checkpoint ({exc.strerror or exc}); {kept}"
        ) from None
    legacy = _legacy_state_path(Path(run), tag)
    if legacy.exists():  # a format-1 state beside new weights would be a mismatched pair
        legacy.unlink()
    return path


def _write_bytes(fh, data: bytes) -> None:
    """Write all of ``data`` (in chunks; a full disk raises ``OSError(ENOSPC)`` here)."""
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        fh.write(view[start : start + _CHUNK])


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read any weights file of this project (a checkpoint, ``best``, a bundled model)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileProblem(path, "weights file not found")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - not a dict
    except Exception as exc:  # safetensors raises its own error types for any damage
        reason = "empty file" if path.stat().st_size == 0 else str(exc).splitlines()[0]
        raise FileProblem(path, f"not a readable safetensors weights file ({reason})") from None
    state = None
    if "state" in meta:  # parsed with bounded depth: _decode recurses over it
        skeleton = files.parse_json(meta["state"], path, "training state", allow_constants=True)
        try:
            state = _decode(skeleton, tensors)
        except (ValueError, KeyError, TypeError) as exc:
            raise FileProblem(path, f"damaged training state in the checkpoint ({exc})") from None
    config = None
    if "config" in meta:
        try:
            config = files.parse_json(meta["config"], path, "configuration record")
        except FileProblem:
            raise FileProblem(path, "damaged configuration record in the checkpoint") from None
    weights = {k: v for k, v in tensors.items() if not k.startswith(_STATE_PREFIX)}
    return Checkpoint(path, weights, state, config, meta)


def load_weights(run: str | Path, tag: str) -> dict[str, torch.Tensor]:
    """The network weights of a run's ``tag`` checkpoint."""
    return read_checkpoint(weights_path(run, tag)).weights


def load_state(run: str | Path, tag: str = "last") -> dict:
    """The training state (``loop``, ``optim_generator``, ``optim_discriminators``) of a
    run's checkpoint."""
    checkpoint = read_checkpoint(weights_path(run, tag))
    if checkpoint.state is None:
        raise FileProblem(checkpoint.path, "holds weights only, no training state")
    return checkpoint.state


def read_resumable(run: str | Path, config: RunConfig, may_differ: set[str]) -> Checkpoint:
    """The ``last`` checkpoint, verified to continue ``config``: it holds a training state
    and was written for the same configuration (settings in ``may_differ``, such as
    ``train.max_minutes``, aside). :class:`FileProblem` says what does not match."""
    run = Path(run)
    path = weights_path(run, "last")
    if _legacy_state_path(run, "last").exists():
        raise FileProblem(
            path,
            f"written by an older napari-apn with its training state in a separate "
            f"last_state.pt, which cannot be verified to belong to these weights; start a new "
            f"run from its weights with: apn train DATA --out NEW_RUN --init {run}",
        )
    checkpoint = read_checkpoint(path)
    if checkpoint.state is None:
        raise FileProblem(path, "holds weights only, no training state: nothing to resume")
    if checkpoint.config is None:
        raise FileProblem(path, "records no configuration: cannot verify it belongs to this run")
    current = config.to_dict()
    differences = [
        f"{key}: {saved!r} in the checkpoint, {now!r} in {CONFIG}"
        for key, saved, now in _differences(checkpoint.config, current)
        if key not in may_differ and key.split(".")[0] != "version"
    ]
    if differences:
        raise FileProblem(
            path,
            "was written for a different configuration than this run's "
            f"{CONFIG} ({'; '.join(differences[:4])}); it cannot be resumed",
        )
    return checkpoint


def _differences(a: Any, b: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, a's value, b's value)`` where two JSON-like trees differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [(prefix.rstrip("."), a, b)]


# ----- training state without pickle ---------------------------------------------------
_STATE_PREFIX = "state/"


def _encode(obj: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """A JSON skeleton of nested dicts/lists/tuples/scalars with tensors moved out.

    Dicts become ``{"d": [[key, value], ...]}`` (keeping int keys, as optimizers use),
    tuples ``{"t": [...]}``, lists ``{"l": [...]}``, tensors ``{"x": name}``.
    """
    import torch

    tensors: dict[str, torch.Tensor] = {}

    def enc(o: Any) -> Any:
        if isinstance(o, torch.Tensor):
            name = f"{_STATE_PREFIX}{len(tensors)}"
            tensors[name] = o.detach().cpu().contiguous().clone()
            return {"x": name}
        if isinstance(o, dict):
            return {"d": [[k, enc(v)] for k, v in o.items()]}
        if isinstance(o, tuple):
            return {"t": [enc(v) for v in o]}
        if isinstance(o, list):
            return {"l": [enc(v) for v in o]}
        if o is None or isinstance(o, bool | int | float | str):
            return o
        raise TypeError(f"cannot store {type(o).__name__} in a checkpoint")

    return enc(obj), tensors


def _decode(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(skeleton, dict):
        if "x" in skeleton:
            return tensors[skeleton["x"]]
        if "d" in skeleton:
            return {k: _decode(v, tensors) for k, v in skeleton["d"]}
        if "t" in skeleton:
            return tuple(_decode(v, tensors) for v in skeleton["t"])
        if "l" in skeleton:
            return [_decode(v, tensors) for v in skeleton["l"]]
        raise ValueError(f"unknown entry {sorted(skeleton)[:3]}")
    return skeleton


DISCRIMINATORS = ("confidence", "pose")
TRAINED_KEY = "discriminators_trained"  # checkpoint metadata: "confidence,pose", "", ...


def trained_label(trained) -> str:
    """How a checkpoint records its trained discriminators: their names, comma-separated."""
    return ",".join(sorted(set(trained) & set(DISCRIMINATORS)))


def trained_discriminators(checkpoint: Checkpoint, epochs_pretrain: int) -> frozenset[str]:
    """The discriminators of ``checkpoint`` whose weights went through adversarial training
    (or came trained from a fine-tuning source): only those may judge at inference. A run
    trained ``--no-adversarial``, or a *best* from the supervised phase, holds initial
    discriminator weights, which say ≈ 0.5 of everything.

    Checkpoints record it (metadata ``discriminators_trained``: the names; bundled models
    of earlier versions ``1``/``0``); for older run checkpoints it is inferred from their
    loop state (``last``) or epoch (``best``) against ``epochs_pretrain``."""
    flag = checkpoint.meta.get(TRAINED_KEY)
    if flag is not None:
        if flag in ("1", "0"):
            return frozenset(DISCRIMINATORS) if flag == "1" else frozenset()
        return frozenset(n for n in flag.split(",") if n in DISCRIMINATORS)
    loop = (checkpoint.state or {}).get("loop") if isinstance(checkpoint.state, dict) else None
    if isinstance(loop, dict):
        epoch, step = int(loop.get("epoch", 0)), int(loop.get("step", 0))
        trained = epoch > epochs_pretrain or (epoch == epochs_pretrain and step > 0)
    else:
        try:
            trained = int(checkpoint.meta.get("epoch", 0)) > epochs_pretrain  # 1-based, done
        except ValueError:
            trained = False
    return frozenset(DISCRIMINATORS) if trained else frozenset()


def retire_calibration(run: Path) -> Path | None:
    """Set a run's calibration aside (renamed, not deleted) before training changes its
    weights: fitted on the old weights, it would misstate the new model's confidence.
    Returns where it went, or None when the run had none."""
    path = Path(run) / CALIBRATION
    if not path.is_file():
        return None
    target = path.with_name(STALE_CALIBRATION)
    os.replace(path, target)
    return target
