"""Finding the images of a folder, without reading apn's own outputs as data."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from apn_core.io import is_image_file

log = logging.getLogger(__name__)

# A folder holding this file was written by apn (``apn predict``/``apn evaluate`` outputs):
# folder discovery skips it, so a report or overlays inside DATA are never read as data.
OUTPUT_MARKER = ".apn-output"
RUN_CONFIG = "config.json"  # with *.safetensors beside it: a run folder, also skipped


def find_images(root: Path) -> Iterator[Path]:
    """Image files under ``root`` (recursively, sorted).

    Skipped: hidden files and folders (``.name``), sub-folders holding
    :data:`OUTPUT_MARKER` (what ``apn predict``/``apn evaluate`` write: overlays, plots),
    and run folders (``config.json`` beside ``*.safetensors``). Symbolic links are
    followed, each real folder is visited once (a link loop ends), and only regular files
    are returned (a link to a device or FIFO is not).
    """
    root = Path(root)
    found: list[Path] = []
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        try:
            st = here.stat()
        except OSError:
            dirnames[:] = []
            continue
        skip_output = here != root and is_output_folder(filenames)
        if skip_output:
            log.info("skipping %s: an apn output or run folder", here)
        if skip_output or (st.st_dev, st.st_ino) in visited:
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            path = here / name
            if not name.startswith(".") and is_image_file(path) and path.is_file():
                found.append(path)
    yield from sorted(found)


def is_output_folder(filenames: list[str]) -> bool:
    """True for a folder apn wrote (it holds :data:`OUTPUT_MARKER`) or a run folder."""
    names = set(filenames)
    return OUTPUT_MARKER in names or (
        RUN_CONFIG in names and any(n.endswith(".safetensors") for n in names)
    )
