"""Reading a small file that a user names: the one helper every such read goes through.

Option files (``--config``, ``--calibration``, ``--landmarks``), a run folder's JSON
files, annotation files, prediction records and the plugin's state file are opened by
path, and a path can name anything: a FIFO (``open`` blocks until a writer comes, so
the command or napari's UI thread hangs), ``/dev/zero`` (reads until memory runs out),
a folder, or a 50 GB file. So before anything is read:

- the file is opened without blocking (``O_NONBLOCK``: opening a FIFO returns at once)
  and ``fstat`` on the open descriptor must say *regular file* (no race between a check
  and the open);
- at most ``max_bytes`` (+1, to know it is over) are read, whatever the size says;
- text must be UTF-8; leading byte-order marks are dropped (one from a Windows editor,
  and a second from a tool that added its own to the first);
- JSON may nest at most :data:`MAX_JSON_DEPTH` levels (the project's files nest ≤ 8):
  deeper text is refused with a sentence, never a ``RecursionError``; ``NaN`` and
  ``Infinity`` (not JSON) are refused unless the caller allows them.

Every refusal is ``error(path, problem)`` — :class:`~apn_core.errors.FileProblem` by
default, :class:`~apn_core.errors.AnnotationError` for annotation files — so the CLI
prints one line and exits 2 and napari shows the sentence.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from apn_core.errors import FileProblem

MAX_JSON_DEPTH = 64
MAX_OPTION_BYTES = 1 << 20  # --config, --landmarks, config.json, split.json: ≤ 1 MiB
MAX_TABLE_BYTES = 64 << 20  # annotation tables, calibration, records, state: ≤ 64 MiB
BOM = "\ufeff"
NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to block on
_CHUNK = 1 << 20


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    return "not a regular file (a device, FIFO or socket); it is never read"


@contextlib.contextmanager
def open_regular(
    path: str | Path, what: str = "file", error: type[FileProblem] = FileProblem
) -> Iterator[io.BufferedReader]:
    """``open(path, "rb")`` for a regular file only, never blocking on a FIFO."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | NONBLOCK)
    except FileNotFoundError:
        raise error(path, f"{what} not found") from None
    except IsADirectoryError:
        raise error(path, _describe(stat.S_IFDIR)) from None
    except OSError as exc:
        raise error(path, f"cannot read the {what} ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(path, _describe(mode))
        if NONBLOCK:  # a regular file: reads as usual from here
            with contextlib.suppress(OSError):
                os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_bytes(
    path: str | Path,
    what: str = "file",
    max_bytes: int = MAX_TABLE_BYTES,
    error: type[FileProblem] = FileProblem,
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see the module docstring)."""
    with open_regular(path, what, error) as fh:
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise error(Path(path), f"cannot read the {what} ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise error(
            Path(path),
            f"the {what} holds more than {max_bytes:,} bytes; at most {max_bytes:,} are read",
        )
    return data


def read_text(
    path: str | Path,
    what: str = "file",
    max_bytes: int = MAX_TABLE_BYTES,
    error: type[FileProblem] = FileProblem,
) -> str:
    """:func:`read_bytes` decoded as UTF-8, leading byte-order marks dropped."""
    data = read_bytes(path, what, max_bytes, error)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(Path(path), f"not UTF-8 text (byte {exc.start})") from None
    return text.lstrip(BOM)


def parse_json(
    text: str,
    path: str | Path,
    what: str = "file",
    error: type[FileProblem] = FileProblem,
    *,
    allow_constants: bool = False,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """JSON ``text`` (from ``path``) parsed, at most ``max_depth`` levels deep."""

    def constant(name: str):
        raise ValueError(f"{name} is not a number in JSON")

    try:
        data = json.loads(text) if allow_constants else json.loads(text, parse_constant=constant)
    except RecursionError:
        data = None
        deep = True
    except ValueError as exc:
        raise error(Path(path), f"cannot read the {what} (invalid JSON: {_brief(exc)})") from None
    else:
        deep = json_depth(data, max_depth) > max_depth
    if deep:
        raise error(
            Path(path),
            f"cannot read the {what} (JSON nested too deeply: more than {max_depth} levels)",
        )
    return data


def read_json(
    path: str | Path,
    what: str = "file",
    max_bytes: int = MAX_OPTION_BYTES,
    error: type[FileProblem] = FileProblem,
    *,
    allow_constants: bool = False,
) -> Any:
    """A bounded regular JSON file parsed with bounded depth (see the module docstring)."""
    text = read_text(path, what, max_bytes, error)
    return parse_json(text, path, what, error, allow_constants=allow_constants)


def json_depth(value: Any, stop: int = MAX_JSON_DEPTH) -> int:
    """How deep lists and dicts nest in ``value`` (a scalar: 0), counted without recursion;
    stops counting past ``stop``."""
    deepest = 0
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > stop:
            return deepest
        todo.extend((child, depth + 1) for child in children)
    return deepest


def _brief(exc: BaseException) -> str:
    from apn_core.io.text import brief_error

    return brief_error(exc, 200)
