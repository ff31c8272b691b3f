"""``apn`` entry point: parse, dispatch, and turn user errors into one clear line.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int``. Options are validated by argparse types (exit 2 with
a usage line); problems with the user's input (:class:`ApnError`), a file system that
refuses a write and ``SystemExit("message")`` print as ``apn: error: <file>: <problem>``
with exit code 2 — never a traceback. The codes are :data:`EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import sys

from apn_core import __version__
from apn_core.cli import (
    bilateral,
    calibrate,
    check,
    demo,
    evaluate,
    importer,
    info,
    predict,
    synth,
    train,
)
from apn_core.errors import ApnError, escape_controls
from apn_core.utils.fsnames import ESCAPE_BYTES

COMMANDS = (demo, synth, importer, bilateral, check, info, train, predict, evaluate, calibrate)

EXIT_CODES = """\
exit codes (every subcommand):
  0        everything asked was done
  1        finished, but some inputs failed or have problems: predict/evaluate with some
           unreadable or unpredicted images (listed), import with some files it could not
           use (listed), check found errors
  2        bad invocation or nothing could be done: a bad option value, a missing or unusable
           file, folder or model, an output folder that cannot be written, every input failed,
           training stopped because the loss became non-finite
  128+N    apn train stopped by signal N (SIGTERM: 143) after saving 'last'; resume with --resume
  130      interrupted (Ctrl-C)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apn",
        description="Adversarial PoseNet landmarks on long-leg radiographs (napari-apn core).",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"napari-apn {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.register(sub)
    return parser


def _error(message: str) -> int:
    print(f"apn: error: {message}", file=sys.stderr)
    return 2


def describe_os_error(exc: OSError) -> str:
    """``<file>: <reason>``, or the reason alone when the error names no file (a full disk
    met while writing through an open file, a failed ``fsync``)."""
    exc = _original(exc)
    lines = str(exc).strip().splitlines()
    reason = exc.strerror or (lines[0] if lines else "") or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        reason += "; free some space (or write elsewhere) and run again"
    return reason if exc.filename is None else f"{exc.filename}: {reason}"


def _original(exc: OSError) -> OSError:
    """The OSError that carries the errno, when a library re-raised it without one
    (pydicom's writer wraps it in ``OSError("With tag ... got exception: ...<traceback>")``)."""
    seen = exc
    while seen.errno is None and isinstance(seen.__cause__ or seen.__context__, OSError):
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return seen if seen.errno is not None else exc


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints as \xNN
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors=ESCAPE_BYTES)
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
        return _error(str(exc))
    except SystemExit as exc:  # raise SystemExit("apn x: error: ...") in a subcommand: code 2
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print("apn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `apn synth ... | head`: the reader left, not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except OSError as exc:  # a disk or folder refusing a write: the file and the reason
        if args.verbose:
            raise
        return _error(escape_controls(describe_os_error(exc)))


if __name__ == "__main__":
    raise SystemExit(main())
