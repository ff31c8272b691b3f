"""``apn predict INPUT... --model RUN|default --out DIR``: landmarks for many radiographs.

INPUT: files and/or folders (searched recursively). Writes ``DIR/landmarks.csv``
(image,landmark,x,y,x_mm,y_mm,confidence,present; absent landmarks have empty
coordinates), ``DIR/measurements.csv``, a Slicer ``<stem>.mrk.json`` per image and, with
``--overlays``, ``DIR/overlays/<stem>.png``. Unreadable images are reported and skipped;
re-running skips images already done.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from apn_core.cli.common import add_model_options, add_spacing_option, progress_bar
from apn_core.dataset import find_images
from apn_core.errors import FileProblem
from apn_core.io import is_image_file

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("predict", help="find landmarks in radiographs", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--model", default="default", help="run folder, or 'default' (bundled)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overlays", action="store_true", help="also write overlay PNGs")
    add_model_options(p)
    p.add_argument("--workers", type=int, default=1, help="processes reading images")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    add_spacing_option(p, "for images without spacing (required for them: results are in mm)")
    p.set_defaults(func=run)


def collect_inputs(inputs: list[str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """(path, name relative to its input) for every image; and the skipped non-images."""
    found, skipped = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for image in find_images(path):
                found.append((image, image.relative_to(path).as_posix()))
            skipped += [str(f) for f in path.rglob("*") if f.is_file() and not is_image_file(f)
                        and not any(part.startswith(".") for part in f.relative_to(path).parts)]  # fmt: skip
        elif path.is_file():
            if is_image_file(path):
                found.append((path, path.name))
            else:
                skipped.append(str(path))
        else:
            raise FileProblem(path, "no such file or folder")
    return found, skipped


def run(args) -> int:
    from apn_core.inference import Predictor
    from apn_core.inference.batch import predict_files
    from apn_core.inference.outputs import (
        done_images,
        output_stem,
        save_image_outputs,
        write_tables,
    )
    from apn_core.inference.overlay import write_overlay
    from apn_core.io import read_radiograph

    out = Path(args.out)
    images, skipped = collect_inputs(args.inputs)
    for s in skipped:
        log.warning("skipped (not an image file): %s", s)
    predictor = Predictor.load(args.model, device=args.device, flip_test=not args.no_flip)
    done = done_images(out)
    todo = [(p, name) for p, name in images if name not in done]
    names = {p: name for p, name in todo}
    failed: list[tuple[str, str]] = []
    update, close = progress_bar("predicting", "img")
    try:
        results = predict_files(
            predictor, [p for p, _ in todo], args.spacing, args.batch_size, args.workers
        )
        for n, res in enumerate(results, start=1):
            name = names[res.path]
            if res.error is None and res.prediction.spacing is None:
                res.error = f"{res.path}: no pixel spacing in the file; pass --spacing MM (results are in mm)"
            if res.error is not None and res.error.startswith(str(res.path)):
                res.error = res.error[len(str(res.path)) :].lstrip(": ")
            if res.error is not None:
                failed.append((name, res.error))
                log.debug("failed: %s: %s", name, res.error)
            else:
                save_image_outputs(out, name, res.prediction, predictor.config.landmarks)
                if args.overlays:
                    pixels = read_radiograph(res.path, args.spacing).pixels
                    write_overlay(
                        out / "overlays" / f"{output_stem(name)}.png", pixels, res.prediction
                    )
            update(n, len(todo))
    finally:
        close()
    total = write_tables(out) if (out / "predictions").exists() else 0
    print(f"{len(todo) - len(failed)} predicted, {len(images) - len(todo)} already done, {len(failed)} failed, "
          f"{len(skipped)} non-image file(s) skipped → {out / 'landmarks.csv'} ({total} image(s))")  # fmt: skip
    for name, error in failed:
        print(f"  failed: {name}: {error}")
    return 1 if failed and len(failed) == len(todo) else 0
