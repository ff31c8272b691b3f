"""The Train widget's headless part (no Qt): which fields map to which configuration
settings, the labelled-folder check and config file written before a run, and the CLI's
error message. Tests and the widget call these."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FIELDS = {  # widget attribute → (config section, key)
    "pretrain": ("train", "epochs_pretrain"),
    "adversarial": ("train", "epochs_adversarial"),
    "alpha": ("loss", "alpha"),
    "beta": ("loss", "beta"),
    "tolerance": ("loss", "tolerance_mm"),
    "minutes": ("train", "max_minutes"),
}


@dataclass
class Prepared:
    """What the worker thread found before a run starts."""

    report_text: str
    ok: bool
    config_file: str | None = None
    records: list | None = None


def folder_report(data: Path) -> tuple[str, bool]:
    """The ``apn check`` report of a labelled folder, as text, and whether it is usable."""
    from apn_core import dataset
    from apn_core.errors import ApnError

    try:
        report = dataset.load_labelled_folder(data).report
    except ApnError as exc:
        return str(exc), False
    counts = ", ".join(f"{k} {v}" for k, v in report.counts().items()) or "no problems"
    verdict = "OK: ready for training" if report.ok else f"FAILED: {len(report.errors)} error(s)"
    lines = [f"{report.n_labelled} usable labelled image(s); {counts}", verdict]
    return "\n".join(lines + [str(p) for p in report.problems[:50]]), report.ok


def prepare(data: Path, run: Path, config: dict | None, resume: bool) -> Prepared:
    """Worker-thread part of Start: check the folder once, write the config file, and
    read the run's log when resuming."""
    import tempfile

    from apn_core import runs

    text, ok = folder_report(data)
    out = Prepared(text, ok, records=runs.read_log(run) if resume else [])
    if ok and config is not None:
        with tempfile.NamedTemporaryFile(
            "w", prefix="apn-train-", suffix=".json", delete=False, encoding="utf-8"
        ) as fh:
            json.dump(config, fh, indent=2)
        out.config_file = fh.name
    return out


def config_with(preset: str, changes: dict[str, object]) -> dict:
    """``RunConfig.to_dict()`` of ``preset`` with ``{field: value}`` changes (FIELDS keys;
    a time budget of 0 means none)."""
    from apn_core.presets import get_preset

    sections: dict[str, dict] = {}
    for name, value in changes.items():
        section, key = FIELDS[name]
        sections.setdefault(section, {})[key] = (value or None) if name == "minutes" else value
    return get_preset(preset).replace(**sections).to_dict()


def preset_values(preset: str) -> dict[str, object]:
    """``{field: value}`` of a preset, as the widget shows them (no time budget = 0)."""
    from apn_core.presets import get_preset

    config = get_preset(preset)
    values = {name: getattr(getattr(config, s), k) for name, (s, k) in FIELDS.items()}
    return {name: 0 if v is None else v for name, v in values.items()}


def cli_error(error_event: str | None, stderr: str) -> str | None:
    """Why ``apn train`` refused or failed: its ``error`` JSON event, else its last
    ``apn: error: <file>: <problem>`` line on stderr; ``None`` if it said neither."""
    if error_event:
        return error_event
    flagged = [ln for ln in stderr.splitlines() if ln.startswith("apn: error:")]
    return flagged[-1].removeprefix("apn: error:").strip() if flagged else None
