"""Train model widget: GUI → config file → the same CLI a user would run (as SLEAP does).

The fields show the chosen preset's own values (``apn_core.presets``; no defaults are
copied here). Start checks the labelled folder in a worker thread (the ``apn check``
report), writes the preset's config with the user's changes to a temporary file and runs
``apn train DATA --out RUN --config FILE --progress json`` as a **separate process** (a
napari thread would slow the viewer), following its JSON lines: progress bar, live loss
and validation curves, Stop (SIGTERM: a clean stop with a checkpoint), Resume (the curves
reload from the run's log). When the CLI refuses (e.g. the run folder already holds a
run), its reason is shown. A finished run becomes selectable in Detect and Batch.
The process is run by :class:`TrainingRunner`, which the Annotate widget's fine-tuning
uses too.
"""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
    TextEdit,
)
from qtpy.QtCore import QObject, QProcess, Signal

from napari_apn._qt._common import chosen_folder
from napari_apn._qt.curves import Curves
from napari_apn._runs import remember
from napari_apn._train import (
    FIELDS,
    Outcome,
    Prepared,
    TrainingProgress,
    config_with,
    outcome,
    prepare,
    preset_values,
    train_command,
)


class TrainingRunner(QObject):
    """One ``apn train … --progress json`` as a separate process, followed through its JSON
    lines; what the Train and Annotate widgets share.

    ``event`` carries each JSON event (after :attr:`progress` took it in); ``ended`` the
    :class:`~napari_apn._train.Outcome`. A run that ends with weights is remembered
    (offered in Detect and Batch). Temporary files given to :meth:`start` are removed when
    the process ends. :meth:`stop` sends SIGTERM: the CLI saves a checkpoint and exits.
    """

    event = Signal(dict)
    ended = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.process: QProcess | None = None
        self.progress = TrainingProgress()
        self.run: Path | None = None
        self._buffer = ""
        self._temporary: list[str] = []

    @property
    def running(self) -> bool:
        return self.process is not None

    def start(self, command: list[str], run: Path, temporary: list[str] | None = None) -> None:
        self.progress, self.run, self._buffer = TrainingProgress(), run, ""
        self._temporary = list(temporary or [])
        self.process = QProcess()
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finished)
        self.process.start(command[0], command[1:])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()

    def feed(self, e: dict) -> None:
        """Take in one JSON event (from the process, or a test)."""
        self.progress.feed(e)
        self.event.emit(e)

    def _read(self) -> None:
        import json

        self._buffer += bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.startswith("{"):
                try:
                    self.feed(json.loads(line))
                except ValueError:
                    continue

    def _finished(self, code: int, _status=None) -> None:
        self._read()
        err = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        self.process = None
        for name in self._temporary:
            Path(name).unlink(missing_ok=True)
        self._temporary = []
        result = outcome(code, self.progress.error, err, self.run)
        if result.usable:
            remember(self.run)
        self.ended.emit(result)


class TrainWidget(Container):
    def __init__(self, napari_viewer) -> None:
        from apn_core.presets import PRESETS

        super().__init__()
        self.viewer = napari_viewer
        self.data = FileEdit(label="labelled folder", mode="d", value="")
        self.check_button = PushButton(text="Check folder")
        self.report = TextEdit(value="")
        self.out = FileEdit(label="run folder", mode="d", value="")
        self.preset = ComboBox(label="preset", choices=sorted(PRESETS), value="default")
        self.pretrain = SpinBox(label="supervised epochs", min=0, max=10000)
        self.adversarial = SpinBox(label="adversarial epochs", min=0, max=10000)
        self.alpha = FloatSpinBox(label="α (confidence)", min=0, max=1, step=0.0005)
        self.beta = FloatSpinBox(label="β (pose)", min=0, max=1, step=0.0005)
        self.tolerance = FloatSpinBox(label="tolerance (mm)", min=0.5, max=100)
        self.minutes = FloatSpinBox(label="time budget (min, 0 = none)", min=0, max=100000)
        self.resume = CheckBox(text="resume the run in the run folder", value=False)
        self.start_button = PushButton(text="Start training")
        self.cancel_button = PushButton(text="Stop (saves a checkpoint)", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=1, value=0)
        self.status = Label(value="")
        self.extend(
            [
                self.data,
                self.check_button,
                self.report,
                self.out,
                self.preset,
                *(getattr(self, name) for name in FIELDS),
                self.resume,
                self.start_button,
                self.cancel_button,
                self.progress,
                self.status,
            ]
        )
        self.curves = Curves()
        self.native.layout().addWidget(self.curves.canvas)
        self._filled: dict = {}
        self.fill_from_preset()
        self.preset.changed.connect(self.fill_from_preset)
        self.check_button.changed.connect(self.check)
        self.start_button.changed.connect(self.start)
        self.cancel_button.changed.connect(self.cancel)
        self.runner = TrainingRunner()
        self.runner.event.connect(self._show_event)
        self.runner.ended.connect(self._ended)
        self.worker = None
        self._config_file: str | None = None

    # the running process (the runner's), as tests and callers knew it
    @property
    def process(self) -> QProcess | None:
        return self.runner.process

    @property
    def error(self) -> str | None:
        return self.runner.progress.error

    @property
    def last_event(self) -> dict:
        return self.runner.progress.last

    def _event(self, e: dict) -> None:
        self.runner.feed(e)

    # ----- configuration ---------------------------------------------------------------
    def fill_from_preset(self, *_args) -> None:
        """Show the chosen preset's own values."""
        for name, value in preset_values(self.preset.value).items():
            getattr(self, name).value = value
        self._filled = {name: getattr(self, name).value for name in FIELDS}

    def config(self) -> dict:
        """The preset's configuration with the fields the user changed (a field left as
        filled keeps the preset's exact value, not the spin box's rounding of it)."""
        values = {name: getattr(self, name).value for name in FIELDS}
        changed = {k: v for k, v in values.items() if v != self._filled.get(k)}
        return config_with(self.preset.value, changed)

    def command(self, config_file: str | None = None) -> list[str]:
        args = train_command(chosen_folder(self.data), chosen_folder(self.out))
        if self.resume.value:
            args.append("--resume")
            if self.minutes.value > 0:
                args += ["--max-minutes", str(self.minutes.value)]
        elif config_file is not None:
            args += ["--config", config_file]
        return args

    # ----- folder check and start (in a worker thread) -------------------------------
    def check(self) -> None:
        """Show the labelled folder's report (checked in a worker thread)."""
        self._prepare(launch=False)

    def start(self) -> None:
        self._prepare(launch=True)

    def _prepare(self, launch: bool) -> None:
        from napari.qt.threading import thread_worker
        from napari.utils.notifications import show_error

        data, run = chosen_folder(self.data), chosen_folder(self.out)
        if data is None or (launch and run is None):
            show_error(
                "Train model: choose a labelled folder" + (" and a run folder" if launch else "")
            )
            return
        resume = self.resume.value
        config = None if (resume or not launch) else self.config()
        self.worker = thread_worker(prepare, ignore_errors=True)(
            data, run or data, config, resume and launch
        )
        self.worker.returned.connect(self._launch if launch else self._show_report)
        self.worker.errored.connect(self._prepare_failed)
        self.worker.finished.connect(self._prepared)
        self.start_button.enabled = self.check_button.enabled = False
        self.status.value = "checking the labelled folder…"
        self.worker.start()

    def _prepared(self) -> None:
        self.worker = None
        self.check_button.enabled = True
        self.start_button.enabled = self.process is None

    def _prepare_failed(self, exc: Exception) -> None:
        self.status.value = f"failed: {exc}"

    def _show_report(self, prepared: Prepared) -> bool:
        self.report.value = prepared.report_text
        self.status.value = "" if prepared.ok else "the labelled folder has errors (see the report)"
        return prepared.ok

    def _launch(self, prepared: Prepared) -> None:
        from napari.utils.notifications import show_error

        if not self._show_report(prepared):
            show_error("Train model: the labelled folder has errors (see the report)")
            return
        self.curves.set(prepared.records or [])
        self._config_file = prepared.config_file
        temporary = [prepared.config_file] if prepared.config_file else []
        self.runner.start(self.command(prepared.config_file), chosen_folder(self.out), temporary)
        self.start_button.enabled, self.cancel_button.enabled = False, True
        self.status.value = "starting…"

    # ----- the training process ------------------------------------------------------
    def cancel(self) -> None:
        if self.runner.running:
            self.runner.stop()  # SIGTERM: the job saves a checkpoint and exits
            self.status.value = "stopping after the current step…"

    def _show_event(self, e: dict) -> None:
        progress = self.runner.progress
        self.progress.max, self.progress.value = progress.total, progress.done
        if e.get("event") == "epoch":
            self.curves.add(e)
        elif progress.text:
            self.status.value = progress.text

    def _ended(self, result: Outcome) -> None:
        from napari.utils.notifications import show_error, show_info

        self._config_file = None
        self.start_button.enabled, self.cancel_button.enabled = True, False
        if result.state == "failed":
            self.status.value = f"failed: {result.message}"
            show_error(f"Train model: {result.message}")
        elif result.state == "finished":
            self.status.value = "finished: the model is selectable in Detect landmarks"
            show_info(f"Training finished: {self.runner.run}")
        else:
            self.status.value = "stopped: tick 'resume' and start to continue"
            self.resume.value = True
