"""The ``apn predict`` job as a function, shared by the CLI and the napari Batch widget."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from apn_core.dataset import find_images
from apn_core.errors import FileProblem
from apn_core.io import is_image_file

log = logging.getLogger(__name__)


@dataclass
class PredictSummary:
    out: Path
    done: list[str] = field(default_factory=list)
    skipped_done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)
    cancelled: bool = False

    def line(self) -> str:
        state = " (cancelled)" if self.cancelled else ""
        return (f"{len(self.done)} predicted, {len(self.skipped_done)} already done, {len(self.failed)} failed, "
                f"{len(self.not_images)} non-image file(s) skipped{state}")  # fmt: skip


def collect_inputs(inputs: list[str | Path]) -> tuple[list[tuple[Path, str]], list[str]]:
    """(path, name relative to its input) for every image; and the skipped non-images."""
    found, skipped = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += [(image, image.relative_to(path).as_posix()) for image in find_images(path)]
            skipped += [str(f) for f in path.rglob("*") if f.is_file() and not is_image_file(f)
                        and not any(part.startswith(".") for part in f.relative_to(path).parts)]  # fmt: skip
        elif path.is_file():
            (found.append((path, path.name)) if is_image_file(path) else skipped.append(str(path)))
        else:
            raise FileProblem(path, "no such file or folder")
    return found, skipped


def run_predict_job(
    inputs: list[str | Path],
    out: str | Path,
    model: str = "default",
    spacing=None,
    overlays: bool = False,
    batch_size: int = 4,
    workers: int = 1,
    flip_test: bool = True,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> PredictSummary:
    """Predict every image under ``inputs`` into ``out`` (see ``apn predict``)."""
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

    out = Path(out)
    images, not_images = collect_inputs(inputs)
    summary = PredictSummary(out=out, not_images=not_images)
    predictor = Predictor.load(model, device=device, flip_test=flip_test)
    done = done_images(out)
    summary.skipped_done = [name for _, name in images if name in done]
    todo = [(p, name) for p, name in images if name not in done]
    names = {p: name for p, name in todo}
    for n, res in enumerate(
        predict_files(predictor, [p for p, _ in todo], spacing, batch_size, workers), start=1
    ):
        if cancelled is not None and cancelled():
            summary.cancelled = True
            break
        name = names[res.path]
        error = res.error
        if error is None and res.prediction.spacing is None:
            error = "no pixel spacing in the file; pass a spacing (results are in mm)"
        if error is not None:
            summary.failed.append((name, error.removeprefix(str(res.path)).lstrip(": ")))
        else:
            save_image_outputs(out, name, res.prediction, predictor.config.landmarks)
            if overlays:
                pixels = read_radiograph(res.path, spacing).pixels
                write_overlay(out / "overlays" / f"{output_stem(name)}.png", pixels, res.prediction)
            summary.done.append(name)
        if progress:
            progress(n, len(todo))
    if (out / "predictions").exists():
        write_tables(out)
    return summary
