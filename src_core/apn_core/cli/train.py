"""``apn train DATA --out RUN``: train an Adversarial PoseNet on a labelled folder.

Supervised pre-training of the generator, then the adversarial phase with the pose and
confidence discriminators. The run folder is the model (weights, config, log). Ctrl-C or
SIGTERM stop after the current step with a checkpoint; ``--resume`` continues exactly
where it stopped. ``--init default|RUN`` fine-tunes another model (preset ``finetune``);
``--unlabelled FOLDER`` adds images without labels to the adversarial phase.
Runs under ``torchrun --nproc_per_node=N`` for data parallelism.

The configuration is the preset (or a ``--config`` file laid over its preset), then
``--set SECTION.KEY=VALUE`` and the options below; every value is checked.

Exit codes: 0 finished or time budget reached; 2 bad options, input or configuration, a
run folder that cannot be used, or training stopped because the loss became NaN;
128+N stopped by signal N (resumable). With ``--progress json`` stdout carries only JSON
lines, and a failure is reported as ``{"event": "error", "message": ...}`` before exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from apn_core.cli.common import (
    add_landmarks_option,
    add_spacing_option,
    fraction,
    load_landmarks,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from apn_core.config import ConfigError, RunConfig
from apn_core.errors import ApnError, FileProblem
from apn_core.presets import PRESETS, get_preset

TRAIN_OPTIONS = (  # CLI dest = TrainConfig field
    "epochs_pretrain",
    "epochs_adversarial",
    "batch_size",
    "lr",
    "val_fraction",
    "seed",
    "workers",
    "max_minutes",
    "stop_after_steps",
)
LOSS_OPTIONS = {"alpha": "alpha", "beta": "beta", "tolerance": "tolerance_mm", "sigma": "sigma"}
STARTED = time.monotonic()  # ~ the process start: the log's wall_s counts from here


def input_size(text: str) -> tuple[int, int]:
    """argparse type: ``HEIGHTxWIDTH`` in pixels, e.g. ``512x192``."""
    parts = text.lower().split("x")
    try:
        if len(parts) != 2:
            raise argparse.ArgumentTypeError
        return positive_int(parts[0]), positive_int(parts[1])
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not HEIGHTxWIDTH with two whole numbers ≥ 1 (e.g. 512x192)"
        ) from None


def held_out_fraction(text: str) -> float:
    """argparse type: a share in [0, 1) (holding out everything leaves nothing to train)."""
    value = fraction(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 0 and less than 1")
    return value


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on a labelled folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "data",
        nargs="+",
        help="labelled folder (see 'apn check'); several are trained on together, e.g. real "
        "and synthetic images (their images named FOLDER/IMAGE in the run)",
    )
    p.add_argument(
        "--out", required=True, help="run folder to create (or to continue with --resume)"
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="model configuration to start from (default: the --config file's preset, else "
        "'finetune' with --init, else 'default')",
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="JSON",
        help="a run configuration (a run's config.json, or a partial one such as the napari Train "
        "widget writes); settings it leaves out come from its 'preset' (or --preset)",
    )
    p.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change one setting on top of the preset/config, e.g. --set train.lr=1e-3 "
        "--set augment.rotation_deg=12 (JSON values); repeatable",
    )
    p.add_argument(
        "--init",
        metavar="MODEL",
        help="fine-tune: start from this model's weights ('default' = the bundled model, or a "
        "run folder), with its landmark set and geometry unless given",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint (a run stopped before its "
        "first checkpoint starts again from the beginning, with or without --resume)",
    )
    p.add_argument(
        "--val",
        metavar="DATA",
        help="separate validation folder (default: hold out --val-fraction)",
    )
    p.add_argument("--val-fraction", type=held_out_fraction, help="share held out, in [0, 1)")
    p.add_argument(
        "--epochs-pretrain", type=non_negative_int, metavar="N", help="supervised epochs"
    )
    p.add_argument(
        "--epochs-adversarial", type=non_negative_int, metavar="N", help="adversarial epochs"
    )
    p.add_argument("--no-adversarial", action="store_true", help="supervised baseline (ablation)")
    p.add_argument("--no-augment", action="store_true", help="switch augmentation off")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        help="images per step on any device, learning rate as given (default: the preset's "
        "on a CPU, chosen for the GPU on CUDA with the learning rate scaled)",
    )
    p.add_argument(
        "--unlabelled",
        metavar="FOLDER",
        help="images without labels: in the adversarial phase the generator also learns to "
        "make the discriminators judge its heatmaps on them correct (loss.unlabelled_weight)",
    )
    p.add_argument("--lr", type=positive_float, help="generator learning rate")
    p.add_argument(
        "--alpha", type=non_negative_float, help="weight of the confidence adversarial term"
    )
    p.add_argument("--beta", type=non_negative_float, help="weight of the pose adversarial term")
    p.add_argument(
        "--tolerance",
        type=positive_float,
        metavar="MM",
        help="distance counted as correct for p_fake/c_fake",
    )
    p.add_argument(
        "--sigma", type=positive_float, help="target heatmap Gaussian sigma (heatmap px)"
    )
    p.add_argument(
        "--input", type=input_size, metavar="HxW", help="network input size, e.g. 512x192"
    )
    p.add_argument("--stride", type=int, choices=(1, 2, 4, 8), help="heatmap stride")
    p.add_argument("--seed", type=non_negative_int)
    p.add_argument(
        "--workers", type=non_negative_int, help="processes decoding images for the cache"
    )
    p.add_argument(
        "--max-minutes", type=positive_float, help="stop cleanly after this much training time"
    )
    p.add_argument("--stop-after-steps", type=positive_int, help=argparse.SUPPRESS)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument(
        "--progress",
        default="bar",
        choices=("bar", "json"),
        help="progress bar, or JSON lines on stdout",
    )
    add_spacing_option(p, "a spacing_mm column in landmarks.csv comes first")
    add_landmarks_option(p)
    p.set_defaults(func=run)


def base_config(preset: str | None, path: Path | None, init: str | None = None) -> RunConfig:
    """The preset, the ``--init`` model's settings over it, and a config file over both
    (file values win; a partial file keeps the rest).

    The preset is the file's ``"preset"``, else ``preset``, else ``finetune`` with ``init``,
    else ``default``.
    """
    data: dict = {}
    if path is not None:
        from apn_core.runs import read_json

        data = read_json(path, "configuration")
        if not isinstance(data, dict):
            raise FileProblem(path, "a configuration file must hold a JSON object")
        data = {k: v for k, v in data.items() if k != "init"}  # provenance, set by training
    name = data.get("preset") or preset or ("finetune" if init else "default")
    if name not in PRESETS:
        where = path if path is not None else "--preset"
        raise FileProblem(where, f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    base = get_preset(name).to_dict()
    if init:
        from apn_core.train.finetune import model_settings

        base.update(model_settings(init))
    merged = {
        key: {**base[key], **value}
        if isinstance(base.get(key), dict) and isinstance(value, dict) and key != "landmarks"
        else value
        for key, value in data.items()
    }
    try:
        return RunConfig.from_dict({**base, **merged})
    except ConfigError as exc:
        raise FileProblem(path or "--init", f"invalid configuration: {exc}") from None


def _options(args, names: list[str]) -> str:
    """How the user wrote some options, for error messages (``--input 510x192``)."""
    shown = []
    for name in names:
        if name == "settings":
            shown += [f"--set {s}" for s in args.settings]
            continue
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        if isinstance(value, tuple):
            value = "x".join(map(str, value))
        shown.append(flag if value is True else f"{flag} {value}")
    return " ".join(shown)


def model_changes(args) -> tuple[dict[str, dict], list[str]]:
    """Sections changed by model/loss/augmentation options, and the options used."""
    sections: dict[str, dict] = {}
    used: list[str] = []
    loss = {f: getattr(args, d) for d, f in LOSS_OPTIONS.items() if getattr(args, d) is not None}
    if loss:
        sections["loss"] = loss
        used += [d for d in LOSS_OPTIONS if getattr(args, d) is not None]
    geometry = {}
    if args.input:
        geometry.update(height=args.input[0], width=args.input[1])
        used.append("input")
    if args.stride:
        geometry["stride"] = args.stride
        used.append("stride")
    if geometry:
        sections["geometry"] = geometry
    if args.no_augment:
        sections["augment"] = {"enabled": False}
        used.append("no_augment")
    return sections, used


def run(args) -> int:
    """``apn train``; with ``--progress json`` a failure is also a JSON ``error`` event."""
    try:
        return _run(args)
    except Exception as exc:
        if args.progress == "json" and os.environ.get("RANK", "0") == "0":
            from apn_core.train.progress import Progress

            message = str(exc) if isinstance(exc, ApnError) else f"internal error: {exc!r}"
            Progress(json_lines=True).event("error", message=message)
        raise


def _run(args) -> int:
    from apn_core.dataset import check_training_folders

    check_training_folders(args.data, args.val)
    sections, used = model_changes(args)
    init = args.init
    if args.resume:
        given = [
            *used,
            *(["landmarks"] if args.landmarks else []),
            *(["init"] if args.init else []),
        ]
        if args.settings:
            given.append("settings")
        if given and not _repeats_saved(args, sections):
            raise FileProblem(
                "--resume",
                f"a run continues with its own configuration; {_options(args, given)} cannot "
                "change it (start a new run, or --init from this one)",
            )
        init = None  # the same command again: the options match the run's own settings
        if args.config or args.preset:
            _note(args, "--resume: the run's own config.json is used; --config/--preset ignored")
        config = get_preset("default")  # unused: the run's saved configuration wins
    else:
        config = base_config(args.preset, args.config, args.init)
        if args.settings:
            try:
                config = config.with_settings(args.settings)
            except ConfigError as exc:
                raise FileProblem("--set", str(exc)) from None
        if args.landmarks:
            config.landmarks = load_landmarks(args.landmarks)
            config = RunConfig.from_dict(config.to_dict())
        if sections:
            try:
                config = config.replace(**sections)
            except ConfigError as exc:
                raise FileProblem(_options(args, used), str(exc)) from None
    changes = {f: getattr(args, f) for f in TRAIN_OPTIONS if getattr(args, f) is not None}
    if args.no_adversarial:
        changes["adversarial"] = False
    if args.batch_size is not None:  # exactly this many on a GPU too, rates unscaled
        changes["gpu_batch_size"] = args.batch_size
    if Path(args.out).is_dir():  # a second writer is told at once, not after torch loads;
        from apn_core.utils.locks import folder_lock  # train() itself holds the lock

        with folder_lock(args.out, "run folder"):
            pass
    from apn_core.train.job import train  # torch: after the options and files are checked

    reason = train(
        args.data,
        args.out,
        config,
        resume=args.resume,
        train_changes=changes,
        val_data=args.val,
        spacing=args.spacing,
        json_progress=args.progress == "json",
        device=args.device,
        init=init,
        unlabelled=args.unlabelled,
        started=STARTED,
    )
    again = f"apn train {' '.join(map(str, args.data))} --out {args.out} --resume"
    if reason.startswith("SIG"):
        print(f"stopped by {reason}; continue with: {again}", file=sys.stderr)
        return 128 + int(signal.Signals[reason])
    if reason == "time":
        print(f"time budget reached; continue with: {again}", file=sys.stderr)
    elif args.progress != "json" and os.environ.get("RANK", "0") == "0":
        # the bar is off on a non-terminal (a log file, a job queue): say that it finished
        print(
            f"done: the model is {args.out} (apn predict IMAGES --model {args.out} --out DIR)",
            file=sys.stderr,
        )
    return 0


def _repeats_saved(args, sections: dict[str, dict]) -> bool:
    """True when the model, landmark, ``--set`` and ``--init`` options given with
    ``--resume`` say what the run's ``config.json`` already holds: the command that started
    the run, repeated with ``--resume``, continues it."""
    from apn_core import runs

    if not runs.is_run(args.out):
        return False
    saved = runs.load_config(args.out)
    try:
        candidate = saved.with_settings(args.settings) if args.settings else saved
        if args.landmarks:
            candidate = candidate.replace(landmarks=load_landmarks(args.landmarks).to_dict())
        if sections:
            candidate = candidate.replace(**sections)
    except ConfigError:
        return False
    if args.init and (saved.init is None or saved.init.model != str(args.init)):
        return False
    return candidate.to_dict() == saved.to_dict()


def _note(args, message: str) -> None:
    """A remark for the user: stderr, and a JSON ``note`` event for a JSON follower."""
    print(f"apn: note: {message}", file=sys.stderr)
    if args.progress == "json" and os.environ.get("RANK", "0") == "0":
        sys.stdout.write(json.dumps({"event": "note", "message": message}) + "\n")
        sys.stdout.flush()
