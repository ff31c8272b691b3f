"""Batch predict a folder: writes what ``apn predict`` writes, in a worker thread with a
progress bar (done / total), Cancel, a summary with failure reasons, and a button that
opens a result in the viewer."""

from __future__ import annotations

import logging
from pathlib import Path

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    Label,
    ProgressBar,
    PushButton,
    TextEdit,
)
from qtpy.QtCore import QObject, Signal

from napari_apn._qt.detect_widget import DEFAULT_MODEL
from napari_apn._runs import recent_runs

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Carries progress from the worker thread to the UI thread (queued signal)."""

    progressed = Signal(int, int)


class BatchWidget(Container):
    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.input = FileEdit(label="input folder", mode="d", value="")
        self.output = FileEdit(label="output folder", mode="d", value="")
        self.model = ComboBox(label="model", choices=lambda _w: [DEFAULT_MODEL, *recent_runs()])
        self.overlays = CheckBox(text="write overlay pictures", value=True)
        self.run_button = PushButton(text="Predict folder")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=1, value=0)
        self.summary = TextEdit(value="", enabled=True)
        self.open_button = PushButton(text="Open first result in viewer", enabled=False)
        self.status = Label(value="")
        self.extend([self.input, self.output, self.model, self.overlays, self.run_button, self.cancel_button,
                     self.progress, self.status, self.summary, self.open_button])  # fmt: skip
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.open_button.changed.connect(self.open_result)
        self._relay = _Relay()
        self._relay.progressed.connect(self._progress)
        self._cancel = False
        self.worker = None
        self.result = None

    def run(self) -> None:
        from napari.qt.threading import thread_worker
        from napari.utils.notifications import show_error

        source, out = Path(str(self.input.value or "")), Path(str(self.output.value or ""))
        if not source.is_dir() or str(self.output.value or "") in ("", "."):
            show_error("Batch predict: choose an input folder and an output folder")
            return
        model = "default" if self.model.value in (None, DEFAULT_MODEL) else str(self.model.value)
        self._cancel = False
        relay, overlays = self._relay, self.overlays.value

        @thread_worker
        def work():
            from apn_core.inference.jobs import run_predict_job

            try:
                return run_predict_job([source], out, model, overlays=overlays, workers=0,
                                       progress=relay.progressed.emit, cancelled=lambda: self._cancel)  # fmt: skip
            except Exception as exc:
                log.debug("batch failed", exc_info=True)
                return str(exc)

        self.worker = work()
        self.worker.returned.connect(self._done)
        self.worker.finished.connect(self._finished)
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.status.value = "predicting…"
        self.worker.start()

    def cancel(self) -> None:
        self._cancel = True
        self.status.value = "cancelling after the current image…"

    def _progress(self, done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.status.value = f"{done} / {total}"

    def _done(self, result) -> None:
        from napari.utils.notifications import show_error

        if isinstance(result, str):
            self.status.value = "failed"
            show_error(f"Batch predict: {result}")
            return
        self.result = result
        lines = [result.line()] + [f"failed: {name}: {error}" for name, error in result.failed]
        self.summary.value = "\n".join(lines)
        self.status.value = "cancelled" if result.cancelled else "done"
        self.open_button.enabled = bool(result.done or result.skipped_done)

    def _finished(self) -> None:
        self.run_button.enabled, self.cancel_button.enabled = True, False
        self.worker = None

    def open_result(self) -> None:
        """Open the first predicted image with its landmarks."""
        if self.result is None:
            return
        name = (self.result.done or self.result.skipped_done)[0]
        image = Path(str(self.input.value)) / name
        self.viewer.open(str(image), plugin="napari-apn")
        self.viewer.open(str(self.result.out / "landmarks.csv"), plugin="napari-apn")
