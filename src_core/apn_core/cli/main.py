"""``apn`` entry point: parse, dispatch, and turn user errors into one clear line.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int``. Problems with the user's input (:class:`ApnError`)
print as ``apn: error: <file>: <problem>`` with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from apn_core import __version__
from apn_core.cli import check, demo, evaluate, info, predict, synth, train
from apn_core.errors import ApnError

COMMANDS = (demo, synth, check, info, train, predict, evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apn",
        description="Adversarial PoseNet landmarks on long-leg radiographs (napari-apn core).",
    )
    parser.add_argument("--version", action="version", version=f"napari-apn {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except ApnError as exc:
        print(f"apn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("apn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `apn synth ... | head`: the reader left, not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
