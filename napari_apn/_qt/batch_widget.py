"""Batch predict a folder: writes what ``apn predict`` writes (:func:`napari_apn._batch.run_batch`,
in a worker) with a progress bar (done / total), Cancel (after the current image), a
summary with every failure and its reason, and a button that opens the first result —
that image, with its own points only. *spacing if none (mm/px)* is ``apn predict
--spacing``: the pixel spacing of files that have none (PNG, JPEG)."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import (
    CheckBox,
    Container,
    FileEdit,
    FloatSpinBox,
    ProgressBar,
    PushButton,
    TextEdit,
)

from napari_apn._qt._common import StatusLabel, chosen_folder
from napari_apn._qt.model_picker import ModelPicker
from napari_apn._qt.tasks import Job, Task


class BatchWidget(Container):
    def __init__(self, napari_viewer) -> None:
        from napari_apn._points import watch

        super().__init__()
        self.viewer = napari_viewer
        watch(napari_viewer)
        self.input = FileEdit(label="input folder", mode="d", value="")
        self.output = FileEdit(label="output folder", mode="d", value="")
        self.picker = ModelPicker()
        self.model = self.picker.choice
        self.spacing = FloatSpinBox(
            label="spacing if none (mm/px)", min=0, max=5, step=0.001, value=0
        )
        self.spacing.native.setDecimals(4)
        self.spacing.tooltip = (
            "pixel spacing for images whose file has none (PNG, JPEG, some TIFF); 0 = none. "
            "A file's own spacing is always used"
        )
        self.overlays = CheckBox(text="write overlay pictures", value=True)
        self.run_button = PushButton(text="Predict folder")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=1, value=0)
        self.summary = TextEdit(value="", enabled=True)
        self.open_button = PushButton(
            text="Open first result in viewer (flagged first)", enabled=False
        )
        self.status = StatusLabel()
        self.extend(
            [
                self.input,
                self.output,
                self.picker,
                self.spacing,
                self.overlays,
                self.run_button,
                self.cancel_button,
                self.progress,
                self.status,
                self.summary,
                self.open_button,
            ]
        )
        self.task = Task(
            "Batch predict", self.run_button, self.cancel_button, self.progress, owner=self
        )
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.open_button.changed.connect(self.open_result)
        self.result = None
        self.source: Path | None = None

    @property
    def worker(self):
        """The running worker (``None`` when idle)."""
        return self.task.worker

    def run(self) -> None:
        from napari.utils.notifications import show_error

        from napari_apn._batch import run_batch

        source, out = chosen_folder(self.input), chosen_folder(self.output)
        if source is None or not source.is_dir() or out is None:
            show_error("Batch predict: choose an input folder and an output folder")
            return
        self.source = source
        job = Job()
        self.task.start(
            run_batch,
            source,
            out,
            self.picker.model() or "default",
            self.spacing.value,
            self.overlays.value,
            job,
            job=job,
            returned=self._done,
            errored=self._errored,
        )
        job.relay.progressed.connect(self._progress)
        self.open_button.enabled = False
        self.status.value = "predicting…"

    def cancel(self) -> None:
        """Stop after the current image (what is done stays written)."""
        if self.task.job is not None:
            self.task.job.cancel()
            self.status.value = "cancelling after the current image…"

    def _progress(self, done: int, total: int) -> None:
        if self.task.running:
            self.status.value = f"{done} / {total}"

    def _done(self, result) -> None:
        from napari_apn._batch import summary_lines

        self.result = result
        self.summary.value = "\n".join(summary_lines(result))
        self.status.value = "cancelled" if result.cancelled else "done"
        self.open_button.enabled = bool(result.done or result.skipped_done)

    def _errored(self, exc: Exception) -> None:
        """napari's worker already shows the error as a notification."""
        self.status.value = f"failed: {exc}"

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
