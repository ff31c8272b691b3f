"""The training process's headless part (no Qt): which fields map to which configuration
settings, the labelled-folder check and config file written before a run, the command
line, what the JSON progress events mean for a progress bar, and how a run ended. The
Train and Annotate widgets and the tests call these."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
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


def config_with(preset: str, changes: dict[str, object], partial: bool = False) -> dict:
    """``RunConfig.to_dict()`` of ``preset`` with ``{field: value}`` changes (FIELDS keys;
    a time budget of 0 means none). ``partial``: only ``{"preset": …}`` and the changed
    settings — what fine-tuning (``apn train --init MODEL``) needs, so that the starting
    model's landmark set, geometry and network sizes are not replaced by the preset's."""
    from apn_core.presets import get_preset

    sections: dict[str, dict] = {}
    for name, value in changes.items():
        section, key = FIELDS[name]
        sections.setdefault(section, {})[key] = (value or None) if name == "minutes" else value
    if partial:
        return {"preset": preset, **sections}
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


def train_command(data: str | Path, run: str | Path, *options: str) -> list[str]:
    """``apn train DATA --out RUN --progress json OPTIONS…`` run by this interpreter
    (the process a widget starts: the same CLI a user would run)."""
    args = [sys.executable, "-m", "apn_core", "train", str(data), "--out", str(run)]
    return [*args, "--progress", "json", *options]


@dataclass
class TrainingProgress:
    """A running ``apn train --progress json`` as a progress bar and a status line show
    it, from its JSON events (``start``, ``cache``, ``step``, ``epoch``, ``error``, ``stopped``,
    ``done``). ``epochs``: the ``epoch`` records (for curves); ``error``: the message of an
    ``error`` event."""

    done: int = 0
    total: int = 1
    text: str = ""
    error: str | None = None
    last: dict = field(default_factory=dict)
    epochs: list[dict] = field(default_factory=list)

    def feed(self, e: dict) -> None:
        self.last = e
        kind = e.get("event")
        if kind == "start":
            self.total = max(1, e["epochs"] * e["steps_per_epoch"])
            self.done = e["resume_epoch"] * e["steps_per_epoch"] + e["resume_step"]
        elif kind == "cache":
            self.text = f"caching images {e['done']}/{e['total']}"
        elif kind == "step":
            # step events are batched (at most one a second): follow global_step when given
            step = e.get("global_step")
            self.done = min(int(step) if step is not None else self.done + 1, self.total)
            loss = e.get("loss")
            shown = f", loss {loss:.4g}" if isinstance(loss, int | float) else ""
            self.text = f"{e['phase']} epoch {e['epoch']}/{e['epochs']}{shown}"
        elif kind == "epoch":
            self.epochs.append(e)
        elif kind == "error":
            self.error = str(e.get("message", ""))
        elif kind in ("stopped", "done"):
            self.text = kind


@dataclass(frozen=True)
class Outcome:
    """How a training process ended: ``finished`` (exit 0: done or time budget reached),
    ``stopped`` (by a signal, resumable: it left a checkpoint) or ``failed`` (``message``
    says why). ``usable``: the run folder holds weights a model picker can offer."""

    state: str
    message: str = ""
    usable: bool = False


def outcome(code: int, error_event: str | None, stderr: str, run: Path | None) -> Outcome:
    """The :class:`Outcome` of an ``apn train`` process from its exit code, its ``error``
    event, its stderr and its run folder."""
    from apn_core.runs import has_checkpoint

    usable = run is not None and has_checkpoint(run)
    error = cli_error(error_event, stderr)
    if error is not None:
        return Outcome("failed", error, False)
    if code == 0:
        return Outcome("finished", "", usable)
    if usable:
        return Outcome("stopped", "", True)
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {code}"
    return Outcome("failed", last, False)
