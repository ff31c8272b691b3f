"""The Annotate widget's fine-tuning panel: ``apn train`` on the reviewed images, from the
model that pre-places the points, as a separate process (the Train widget's
:class:`~napari_apn._qt.train_widget.TrainingRunner`: progress, Stop, the CLI's reason
when it fails).

The command is ``apn train RUN/reviewed --out RUN --init MODEL --preset finetune
--progress json [--max-minutes M] [--unlabelled RUN/unlabelled]``. ``RUN/reviewed`` is a
generated labelled folder: links to the reviewed images and a landmarks.csv with only
their rows (``RUN/unlabelled``: links to the other images, offered when the installed
CLI has ``--unlabelled``). DATA is not touched, and the run folder records what it was
trained on. When the run has weights it becomes the model that pre-places the points
(and is offered in Detect and Batch).
"""

from __future__ import annotations

import time
from pathlib import Path

from magicgui.widgets import (
    CheckBox,
    Container,
    FileEdit,
    FloatSpinBox,
    ProgressBar,
    PushButton,
)

from napari_apn._qt._common import StatusLabel, chosen_folder
from napari_apn._qt.training_runner import TrainingRunner


class FinetunePanel(Container):
    """Controls and process of fine-tuning for ``owner`` (the Annotate widget: its
    ``session``, ``model_name()``, ``save_if_changed()``, ``use_model(run)`` and
    ``fail(message)``)."""

    def __init__(self, owner) -> None:
        super().__init__(labels=True)
        self.owner = owner
        self.run = FileEdit(label="run folder", mode="d", value="")
        self.minutes = FloatSpinBox(label="time budget (min)", min=0, max=1000, step=0.5, value=5)
        self.unlabelled = CheckBox(text="use the other images as unlabelled data", value=True)
        self.start_button = PushButton(text="Fine-tune on reviewed images")
        self.stop_button = PushButton(text="Stop fine-tuning", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=1, value=0)
        self.status = StatusLabel()
        self.extend(
            [
                self.run,
                self.minutes,
                self.unlabelled,
                self.start_button,
                self.stop_button,
                self.progress,
                self.status,
            ]
        )
        self.start_button.changed.connect(self.start)
        self.stop_button.changed.connect(self.stop)
        self.runner = TrainingRunner()
        self.runner.event.connect(self._event)
        self.runner.ended.connect(self._ended)

    def command(self, data: Path, run: Path, unlabelled: Path | None) -> list[str]:
        from napari_apn._train import train_command

        options = ["--init", self.owner.model_name(), "--preset", "finetune"]
        if self.minutes.value > 0:
            options += ["--max-minutes", str(self.minutes.value)]
        if unlabelled is not None:
            options += ["--unlabelled", str(unlabelled)]
        return train_command(data, run, *options)

    def start(self) -> bool:
        """Prepare the run folder and start ``apn train`` (see the module docstring)."""
        from apn_core.errors import ApnError

        session, fail = self.owner.session, self.owner.fail
        if self.runner.running or session is None or not self.owner.save_if_changed():
            return False
        reviewed = session.reviewed_images()
        if not reviewed:
            return fail("no reviewed image yet: correct the points and press R")
        run = chosen_folder(self.run)
        if run is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            run = Path.cwd() / "runs" / f"{session.root.name}-finetune-{stamp}"
            self.run.value = run
        if run.exists() and (not run.is_dir() or any(run.iterdir())):
            return fail(f"{run}: not an empty folder; choose a new run folder")
        others = [r for r in session.images if r not in reviewed]
        try:
            data = session.training_folder(run / "reviewed", reviewed)
            unlabelled = None
            if self.unlabelled.value and others:
                unlabelled = session.training_folder(run / "unlabelled", others, False)
        except (ApnError, OSError) as exc:
            return fail(f"cannot prepare the training data in {run}: {exc}")
        self.runner.start(self.command(data, run, unlabelled), run)
        self.start_button.enabled, self.stop_button.enabled = False, True
        self.status.value = f"fine-tuning on {len(reviewed)} reviewed image(s)…"
        return True

    def stop(self) -> None:
        if self.runner.running:
            self.runner.stop()  # SIGTERM: a checkpoint, and the run is usable
            self.status.value = "stopping after the current step…"

    def _event(self, _e: dict) -> None:
        progress = self.runner.progress
        self.progress.max, self.progress.value = progress.total, progress.done
        if progress.text:
            self.status.value = progress.text

    def _ended(self, result) -> None:
        self.start_button.enabled, self.stop_button.enabled = True, False
        run = self.runner.run
        if result.state == "failed":
            self.status.value = f"failed: {result.message}"
            self.owner.fail(f"fine-tuning: {result.message}")
        elif result.usable:
            self.status.value = f"{result.state}: {run} now pre-places the points"
            self.owner.use_model(str(run))  # the list is predicted again by the new model
        else:
            self.status.value = f"{result.state} without weights"
