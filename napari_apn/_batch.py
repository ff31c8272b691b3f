"""The Batch widget's napari-free part: the job it runs and how a file's pixel spacing is
found (the widget gathers the fields and runs :func:`run_batch` in a worker)."""

from __future__ import annotations

from pathlib import Path

NO_SPACING_HINT = (
    "images without a pixel spacing in the file: set 'spacing if none (mm/px)' and predict "
    "again (their results are in mm)"
)


def batch_spacing(spacing_if_none: float | None) -> float | None:
    """The spacing (mm/px) for a file that has none of its own, from the widget's
    *spacing if none* field (0 or empty: none — such a file then fails with its reason).
    A file's own spacing always wins (``apn predict --spacing``'s rule,
    :class:`apn_core.inference.batch.SpacingPolicy`); the one place a file's spacing is
    decided for the widget."""
    return float(spacing_if_none) if spacing_if_none else None


def run_batch(
    source: Path,
    out: Path,
    model: str,
    spacing_if_none: float | None,
    overlays: bool,
    job=None,
):
    """``apn predict SOURCE --out OUT --model MODEL [--spacing S]`` as a function: its
    :class:`~apn_core.inference.jobs.PredictSummary`. ``job``: a
    :class:`napari_apn._qt.tasks.Job` (progress, cancel) or ``None``."""
    from apn_core.inference.jobs import run_predict_job

    return run_predict_job(
        [source],
        out,
        model,
        spacing=batch_spacing(spacing_if_none),
        overlays=overlays,
        workers=0,
        progress=job.report if job is not None else None,
        cancelled=job.cancelled if job is not None else None,
    )


def summary_lines(result, limit: int = 50) -> list[str]:
    """The summary the widget shows: the job's line, a hint when images had no spacing,
    then every failure and review with its reason."""
    hint = [NO_SPACING_HINT] if any("no pixel spacing" in why for _, why in result.failed) else []
    return [result.line(), *hint, *(line.strip() for line in result.details(limit=limit))]
