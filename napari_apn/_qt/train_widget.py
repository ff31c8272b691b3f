"""Train model widget: GUI → config file → the same CLI a user would run (as SLEAP does).

The fields show the chosen preset's own values (``apn_core.presets``; no defaults are
copied here). Start checks the labelled folder in a worker thread (the ``apn check``
report), writes the preset's config with the user's changes to a temporary file and runs
``apn train DATA --out RUN --config FILE --progress json`` as a **separate process** (a
napari thread would slow the viewer), following its JSON lines: progress bar, live loss
and validation curves, Stop (SIGTERM: a clean stop with a checkpoint), Resume (the curves
reload from the run's log). When the CLI refuses (e.g. the run folder already holds a
run), its reason is shown. A finished run becomes selectable in Detect and Batch.
The process is run by :class:`~napari_apn._qt.training_runner.TrainingRunner`, which the
Annotate widget's fine-tuning uses too.

*start from* is the shared model picker: *none (train from scratch)*, the bundled model or
a run; a model adds ``--init MODEL`` and the config file then holds only the changed
settings (the model's landmarks, geometry and network sizes stay). The ``finetune``
preset withdraws *none*: fine-tuning starts from the bundled model unless another is
chosen, never from random weights.
"""

from __future__ import annotations

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    ProgressBar,
    PushButton,
    SpinBox,
    TextEdit,
)
from qtpy.QtCore import QProcess

from napari_apn._qt._common import StatusLabel, chosen_folder
from napari_apn._qt.curves import Curves
from napari_apn._qt.model_picker import ModelPicker
from napari_apn._qt.tasks import Task
from napari_apn._qt.training_runner import TrainingRunner
from napari_apn._train import (
    FIELDS,
    Outcome,
    Prepared,
    config_with,
    prepare,
    preset_values,
    train_command,
)

FINETUNE = "finetune"  # the preset that needs a starting model


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
        self.init = ModelPicker(label="start from", scratch=True)
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
        self.status = StatusLabel()
        self.extend(
            [
                self.data,
                self.check_button,
                self.report,
                self.out,
                self.preset,
                self.init,
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
        self.task = Task("Check labelled folder", status=self.status, owner=self)
        self._config_file: str | None = None

    @property
    def worker(self):
        """The folder check running (``None`` when idle)."""
        return self.task.worker

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
        self.init.require_model(self.preset.value == FINETUNE)

    def config(self) -> dict:
        """The preset's configuration with the fields the user changed (a field left as
        filled keeps the preset's exact value, not the spin box's rounding of it); only
        the changes when starting from a model (see the module docstring)."""
        values = {name: getattr(self, name).value for name in FIELDS}
        changed = {k: v for k, v in values.items() if v != self._filled.get(k)}
        return config_with(self.preset.value, changed, partial=self.init.model() is not None)

    def command(self, config_file: str | None = None) -> list[str]:
        args = train_command(chosen_folder(self.data), chosen_folder(self.out))
        if self.resume.value:
            args.append("--resume")
            if self.minutes.value > 0:
                args += ["--max-minutes", str(self.minutes.value)]
            return args
        init = self.init.model()
        if init is not None:
            args += ["--init", init, "--preset", self.preset.value]
        if config_file is not None:
            args += ["--config", config_file]
        return args

    # ----- folder check and start (in a worker thread) -------------------------------
    def check(self) -> None:
        """Show the labelled folder's report (checked in a worker thread)."""
        self._prepare(launch=False)

    def start(self) -> None:
        self._prepare(launch=True)

    def _prepare(self, launch: bool) -> None:
        from napari.utils.notifications import show_error

        data, run = chosen_folder(self.data), chosen_folder(self.out)
        if data is None or (launch and run is None):
            show_error(
                "Train model: choose a labelled folder" + (" and a run folder" if launch else "")
            )
            return
        resume = self.resume.value
        config = None if (resume or not launch) else self.config()
        self.start_button.enabled = self.check_button.enabled = False
        self.status.value = "checking the labelled folder…"
        self.task.start(
            prepare,
            data,
            run or data,
            config,
            resume and launch,
            returned=self._launch if launch else self._show_report,
            errored=self._prepare_failed,
            finished=self._prepared,
        )

    def _prepared(self) -> None:
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
