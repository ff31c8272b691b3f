"""Train model widget: validates the labelled folder (the ``apn check`` report), then runs
``apn train --progress json`` as a **separate process** (a napari thread would slow the
viewer), following its JSON lines: progress bar, live loss and validation MRE/PCK curves,
Cancel (SIGTERM: a clean stop with a checkpoint), Resume. A finished run becomes
selectable in Detect landmarks and Batch predict."""

from __future__ import annotations

import json
import sys
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
from qtpy.QtCore import QProcess

from napari_apn._runs import remember


class TrainWidget(Container):
    def __init__(self, napari_viewer) -> None:
        super().__init__()
        from apn_core.presets import PRESETS

        self.viewer = napari_viewer
        self.data = FileEdit(label="labelled folder", mode="d", value="")
        self.check_button = PushButton(text="Check folder")
        self.report = TextEdit(value="")
        self.out = FileEdit(
            label="run folder", mode="d", value=str(Path.cwd() / "runs" / "my_model")
        )
        self.preset = ComboBox(label="preset", choices=sorted(PRESETS), value="default")
        self.pretrain = SpinBox(label="supervised epochs", min=0, max=10000, value=40)
        self.adversarial = SpinBox(label="adversarial epochs", min=0, max=10000, value=15)
        self.alpha = FloatSpinBox(
            label="α (confidence)", min=0, max=1, step=0.0005, value=round(1 / 220, 5)
        )
        self.beta = FloatSpinBox(
            label="β (pose)", min=0, max=1, step=0.0005, value=round(1 / 180, 5)
        )
        self.tolerance = FloatSpinBox(label="tolerance (mm)", min=0.5, max=100, value=10.0)
        self.minutes = FloatSpinBox(label="time budget (min, 0 = none)", min=0, max=100000, value=0)
        self.resume = CheckBox(text="resume the run in the run folder", value=False)
        self.start_button = PushButton(text="Start training")
        self.cancel_button = PushButton(text="Stop (saves a checkpoint)", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=1, value=0)
        self.status = Label(value="")
        self.extend([self.data, self.check_button, self.report, self.out, self.preset, self.pretrain, self.adversarial,
                     self.alpha, self.beta, self.tolerance, self.minutes, self.resume, self.start_button,
                     self.cancel_button, self.progress, self.status])  # fmt: skip
        self.curves = _Curves()
        self.native.layout().addWidget(self.curves.canvas)
        self.check_button.changed.connect(self.check)
        self.start_button.changed.connect(self.start)
        self.cancel_button.changed.connect(self.cancel)
        self.process: QProcess | None = None
        self._buffer = ""
        self.last_event: dict = {}

    # ----- folder check ---------------------------------------------------------------
    def check(self) -> bool:
        from apn_core.dataset import load_labelled_folder
        from apn_core.errors import ApnError

        try:
            report = load_labelled_folder(str(self.data.value)).report
        except ApnError as exc:
            self.report.value = str(exc)
            return False
        lines = [str(p) for p in report.problems[:50]]
        counts = ", ".join(f"{k} {v}" for k, v in report.counts().items()) or "no problems"
        verdict = (
            "OK: ready for training" if report.ok else f"FAILED: {len(report.errors)} error(s)"
        )
        self.report.value = "\n".join(
            [f"{report.n_labelled} usable labelled image(s); {counts}", verdict, *lines]
        )
        return report.ok

    # ----- the training process ------------------------------------------------------
    def command(self) -> list[str]:
        args = [sys.executable, "-m", "apn_core", "train", str(self.data.value), "--out", str(self.out.value),
                "--progress", "json"]  # fmt: skip
        if self.resume.value:
            args.append("--resume")
        else:
            args += ["--preset", self.preset.value, "--epochs-pretrain", str(self.pretrain.value),
                     "--epochs-adversarial", str(self.adversarial.value), "--alpha", str(self.alpha.value),
                     "--beta", str(self.beta.value), "--tolerance", str(self.tolerance.value)]  # fmt: skip
        if self.minutes.value > 0:
            args += ["--max-minutes", str(self.minutes.value)]
        return args

    def start(self) -> None:
        from napari.utils.notifications import show_error

        if not self.check():
            show_error("Train model: the labelled folder has errors (see the report)")
            return
        self.curves.clear()
        self.process = QProcess()
        self.process.setProcessChannelMode(QProcess.SeparateChannels)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finished)
        cmd = self.command()
        self.process.start(cmd[0], cmd[1:])
        self.start_button.enabled, self.cancel_button.enabled = False, True
        self.status.value = "starting…"

    def cancel(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: the job saves a checkpoint and exits
            self.status.value = "stopping after the current step…"

    def _read(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.startswith("{"):
                try:
                    self._event(json.loads(line))
                except ValueError:
                    continue

    def _event(self, e: dict) -> None:
        self.last_event = e
        kind = e.get("event")
        if kind == "start":
            self.progress.max = max(1, e["epochs"] * e["steps_per_epoch"])
            self.progress.value = e["resume_epoch"] * e["steps_per_epoch"] + e["resume_step"]
        elif kind == "cache":
            self.status.value = f"caching images {e['done']}/{e['total']}"
        elif kind == "step":
            self.progress.value = min(self.progress.value + 1, self.progress.max)
            self.status.value = (
                f"{e['phase']} epoch {e['epoch']}/{e['epochs']}, loss {e['loss']:.4g}"
            )
        elif kind == "epoch":
            self.curves.add(e)
        elif kind in ("stopped", "done"):
            self.status.value = kind

    def _finished(self, code: int, _status=None) -> None:
        from napari.utils.notifications import show_error, show_info

        self._read()
        err = bytes(self.process.readAllStandardError()).decode("utf-8", "replace").strip()
        self.start_button.enabled, self.cancel_button.enabled = True, False
        from apn_core.runs import has_checkpoint

        run = Path(str(self.out.value))
        if has_checkpoint(run):
            remember(run)
        if code == 0:
            self.status.value = "finished: the model is selectable in Detect landmarks"
            show_info(f"Training finished: {run}")
        elif has_checkpoint(run):
            self.status.value = "stopped: tick 'resume' and start to continue"
            self.resume.value = True
        else:
            self.status.value = "failed"
            show_error("Train model: " + (err.splitlines()[-1] if err else f"exit code {code}"))
        self.process = None


class _Curves:
    """Live training curves on a small matplotlib canvas."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(4, 2.4))
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.loss_ax = self.figure.add_subplot(121)
        self.val_ax = self.figure.add_subplot(122)
        self.records: list[dict] = []

    def clear(self) -> None:
        self.records = []
        self.draw()

    def add(self, record: dict) -> None:
        self.records.append(record)
        self.draw()

    def draw(self) -> None:
        epochs = [r["epoch"] for r in self.records]
        self.loss_ax.clear()
        self.val_ax.clear()
        if epochs:
            self.loss_ax.semilogy(epochs, [r.get("loss_mse", float("nan")) for r in self.records])
            self.val_ax.plot(
                epochs, [r.get("val_mre", float("nan")) for r in self.records], label="MRE mm"
            )
            self.val_ax.plot(
                epochs,
                [10 * r.get("val_pck@10", float("nan")) for r in self.records],
                label="PCK@10 ×10",
            )
            self.val_ax.legend(fontsize=6)
        self.loss_ax.set_title("heatmap loss", fontsize=8)
        self.val_ax.set_title("validation", fontsize=8)
        self.figure.tight_layout()
        self.canvas.draw_idle()
