"""Batch predict a folder: writes what ``apn predict`` writes, in a worker thread with a
progress bar (done / total), Cancel, a summary with every failure and its reason, and a
button that opens the first result — that image, with its own points only."""

from __future__ import annotations

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

from napari_apn._qt._common import chosen_folder
from napari_apn._qt.detect_widget import DEFAULT_MODEL
from napari_apn._runs import recent_runs


class _Relay(QObject):
    """Carries progress from the worker thread to the UI thread (queued signal)."""

    progressed = Signal(int, int)


class BatchWidget(Container):
    def __init__(self, napari_viewer) -> None:
        from napari_apn._points import watch

        super().__init__()
        self.viewer = napari_viewer
        watch(napari_viewer)
        self.input = FileEdit(label="input folder", mode="d", value="")
        self.output = FileEdit(label="output folder", mode="d", value="")
        self.model = ComboBox(label="model", choices=lambda _w: [DEFAULT_MODEL, *recent_runs()])
        self.overlays = CheckBox(text="write overlay pictures", value=True)
        self.run_button = PushButton(text="Predict folder")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=1, value=0)
        self.summary = TextEdit(value="", enabled=True)
        self.open_button = PushButton(
            text="Open first result in viewer (flagged first)", enabled=False
        )
        self.status = Label(value="")
        self.extend(
            [
                self.input,
                self.output,
                self.model,
                self.overlays,
                self.run_button,
                self.cancel_button,
                self.progress,
                self.status,
                self.summary,
                self.open_button,
            ]
        )
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.open_button.changed.connect(self.open_result)
        self._relay = _Relay()
        self._relay.progressed.connect(self._progress)
        self._cancel = False
        self.worker = None
        self.result = None
        self.source: Path | None = None

    def run(self) -> None:
        from napari.qt.threading import thread_worker
        from napari.utils.notifications import show_error

        source, out = chosen_folder(self.input), chosen_folder(self.output)
        if source is None or not source.is_dir() or out is None:
            show_error("Batch predict: choose an input folder and an output folder")
            return
        model = "default" if self.model.value in (None, DEFAULT_MODEL) else str(self.model.value)
        self._cancel = False
        relay, overlays = self._relay, self.overlays.value

        @thread_worker(ignore_errors=True)  # errors: the `errored` signal, below
        def work():
            from apn_core.inference.jobs import run_predict_job

            return run_predict_job(
                [source],
                out,
                model,
                overlays=overlays,
                workers=0,
                progress=relay.progressed.emit,
                cancelled=lambda: self._cancel,
            )

        self.source = source
        self.worker = work()
        self.worker.returned.connect(self._done)
        self.worker.errored.connect(self._errored)
        self.worker.finished.connect(self._finished)
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.open_button.enabled = False
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
        self.result = result
        lines = [result.line()] + [line.strip() for line in result.details(limit=50)]
        self.summary.value = "\n".join(lines)
        self.status.value = "cancelled" if result.cancelled else "done"
        self.open_button.enabled = bool(result.done or result.skipped_done)

    def _errored(self, exc: Exception) -> None:
        """napari's worker already shows the error as a notification."""
        self.status.value = f"failed: {exc}"

    def _finished(self) -> None:
        self.run_button.enabled, self.cancel_button.enabled = True, False
        self.worker = None

    def open_result(self) -> list:
        """Open the first image that needs review (else the first predicted one) with its own
        predicted points, their confidence and review reasons, in its spacing."""
        import numpy as np

        from apn_core.annotations import ImageLabels
        from apn_core.inference.outputs import read_record
        from napari_apn._layers import ImageRef, add_or_update, points_layer_data

        if self.result is None or self.source is None:
            return []
        result = self.result
        name = ([n for n, _ in result.needs_review] or result.done or result.skipped_done)[0]
        (image,) = self.viewer.open(str(self.source / name), plugin="napari-apn")
        table = result.out / "landmarks.csv"
        rows = read_record(result.out, name)["rows"]  # this image's result: no need for the table
        xy = [[np.nan, np.nan] if r["x"] is None else [r["x"], r["y"]] for r in rows]
        labels = ImageLabels(name, np.array(xy, float), np.ones(len(rows), bool))
        ref = ImageRef.of_image_layer(image)
        ref = ImageRef(name, ref.path, ref.spacing)  # rows are named relative to the input
        points = points_layer_data(
            labels,
            f"{image.name} landmarks",
            ref,
            source=str(table),
            confidence=np.array([r["confidence"] for r in rows], float),
            review=[
                r.get("review_reason") or ("needs review" if r.get("needs_review") else "")
                for r in rows
            ],
        )
        return [image, *add_or_update(self.viewer, [points])]
