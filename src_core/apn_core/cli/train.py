"""``apn train DATA --out RUN``: train an Adversarial PoseNet on a labelled folder.

Supervised pre-training of the generator, then the adversarial phase with the pose and
confidence discriminators. The run folder is the model (weights, config, log). Ctrl-C or
SIGTERM stop after the current step with a checkpoint; ``--resume`` continues exactly
where it stopped. Runs under ``torchrun --nproc_per_node=N`` for data parallelism.

Exit codes: 0 finished or time budget reached; 2 bad input; 128+N stopped by signal N.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from apn_core.cli.common import add_landmarks_option, add_spacing_option, load_landmarks
from apn_core.config import RunConfig
from apn_core.errors import FileProblem
from apn_core.presets import PRESETS, get_preset

TRAIN_OPTIONS = {  # CLI dest → TrainConfig field
    "epochs_pretrain": "epochs_pretrain",
    "epochs_adversarial": "epochs_adversarial",
    "batch_size": "batch_size",
    "lr": "lr",
    "val_fraction": "val_fraction",
    "seed": "seed",
    "workers": "workers",
    "max_minutes": "max_minutes",
    "stop_after_steps": "stop_after_steps",
}
LOSS_OPTIONS = {"alpha": "alpha", "beta": "beta", "tolerance": "tolerance_mm", "sigma": "sigma"}


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model on a labelled folder", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("data", help="labelled folder (see 'apn check')")
    p.add_argument(
        "--out", required=True, help="run folder to create (or to continue with --resume)"
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="model configuration to start from (default: default, or the --config file's preset)",
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
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    p.add_argument(
        "--val",
        metavar="DATA",
        help="separate validation folder (default: hold out --val-fraction)",
    )
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--epochs-pretrain", type=int, metavar="N", help="supervised epochs")
    p.add_argument("--epochs-adversarial", type=int, metavar="N", help="adversarial epochs")
    p.add_argument("--no-adversarial", action="store_true", help="supervised baseline (ablation)")
    p.add_argument("--no-augment", action="store_true", help="switch augmentation off")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="generator learning rate")
    p.add_argument("--alpha", type=float, help="weight of the confidence adversarial term")
    p.add_argument("--beta", type=float, help="weight of the pose adversarial term")
    p.add_argument(
        "--tolerance",
        type=float,
        metavar="MM",
        help="distance counted as correct for p_fake/c_fake",
    )
    p.add_argument("--sigma", type=float, help="target heatmap Gaussian sigma (heatmap px)")
    p.add_argument("--input", metavar="HxW", help="network input size, e.g. 512x192")
    p.add_argument("--stride", type=int, help="heatmap stride (1, 2, 4, 8)")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, help="processes decoding images for the cache")
    p.add_argument("--max-minutes", type=float, help="stop cleanly after this much training time")
    p.add_argument("--stop-after-steps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument(
        "--progress",
        default="bar",
        choices=("bar", "json"),
        help="progress bar, or JSON lines on stdout",
    )
    add_spacing_option(p, "for images that carry none")
    add_landmarks_option(p)
    p.set_defaults(func=run)


def base_config(preset: str | None, path: Path | None) -> RunConfig:
    """The preset, or a config file laid over its preset (file values win)."""
    if path is None:
        return get_preset(preset or "default")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FileProblem(path, f"cannot read the configuration ({exc})") from None
    if not isinstance(data, dict):
        raise FileProblem(path, "a configuration file must hold a JSON object")
    name = data.get("preset") or preset or "default"
    if name not in PRESETS:
        raise FileProblem(path, f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    base = get_preset(name).to_dict()
    merged = {
        key: {**base[key], **value}
        if isinstance(base.get(key), dict) and isinstance(value, dict)
        else value
        for key, value in data.items()
    }
    try:
        return RunConfig.from_dict({**base, **merged})
    except (ValueError, TypeError, KeyError) as exc:
        raise FileProblem(path, f"invalid configuration ({exc})") from None


def run(args) -> int:
    from apn_core.train.job import train

    config = base_config(args.preset, args.config)
    if args.settings:
        if args.resume:
            raise FileProblem(args.out, "--set cannot change a run's configuration on --resume")
        try:
            config = config.with_settings(args.settings)
        except (ValueError, TypeError) as exc:
            raise FileProblem("--set", str(exc)) from None
    sections: dict[str, dict] = {}
    if args.landmarks:
        config.landmarks = load_landmarks(args.landmarks)
    loss = {
        field: getattr(args, dest)
        for dest, field in LOSS_OPTIONS.items()
        if getattr(args, dest) is not None
    }
    if loss:
        sections["loss"] = loss
    geometry = {}
    if args.input:
        try:
            h, w = (int(v) for v in args.input.lower().split("x"))
        except ValueError:
            raise SystemExit(f"apn train: error: --input {args.input!r} is not HxW") from None
        geometry.update(height=h, width=w)
    if args.stride:
        geometry["stride"] = args.stride
    if geometry:
        sections["geometry"] = geometry
    if args.no_augment:
        sections["augment"] = {"enabled": False}
    if sections:
        if args.resume:
            raise SystemExit(
                "apn train: error: model, loss and augmentation options cannot change on --resume"
            )
        try:
            config = config.replace(**sections)
        except ValueError as exc:
            raise SystemExit(f"apn train: error: {exc}") from None
    changes = {
        field: getattr(args, dest)
        for dest, field in TRAIN_OPTIONS.items()
        if getattr(args, dest) is not None
    }
    if args.no_adversarial:
        changes["adversarial"] = False
    reason = train(args.data, args.out, config, resume=args.resume, train_changes=changes, val_data=args.val,
                   spacing=args.spacing, json_progress=args.progress == "json", device=args.device)  # fmt: skip
    if reason.startswith("SIG"):
        print(
            f"stopped by {reason}; continue with: apn train {args.data} --out {args.out} --resume"
        )
        return 128 + int(signal.Signals[reason])
    if reason == "time":
        print(
            f"time budget reached; continue with: apn train {args.data} --out {args.out} --resume"
        )
    return 0
