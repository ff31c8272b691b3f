"""Detect landmarks widget: pick an image layer and a model, run in a worker thread.

The UI never blocks: loading the model and predicting run in a napari ``thread_worker``;
the progress bar shows the stage, Cancel discards the run, and errors appear as a napari
notification (never a stuck progress bar).
"""

from __future__ import annotations

import logging
from pathlib import Path

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, ProgressBar, PushButton

from napari_apn._runs import recent_runs

DEFAULT_MODEL = "default (bundled)"
log = logging.getLogger(__name__)


class WorkerError(str):
    """An error message returned (not raised) by a worker."""


class DetectWidget(Container):
    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.image = ComboBox(label="image", choices=self._image_layers)
        self.model = ComboBox(label="model", choices=lambda _w: [DEFAULT_MODEL, *recent_runs()])
        self.browse = FileEdit(label="or run folder", mode="d", value="")
        self.heatmaps = CheckBox(text="show heatmaps", value=True)
        self.run_button = PushButton(text="Detect landmarks")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=2, value=0, visible=False)
        self.status = Label(value="")
        self.extend([self.image, self.model, self.browse, self.heatmaps, self.run_button, self.cancel_button,
                     self.progress, self.status])  # fmt: skip
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.viewer.layers.events.inserted.connect(self.image.reset_choices)
        self.viewer.layers.events.removed.connect(self.image.reset_choices)
        self.worker = None

    def _image_layers(self, _widget=None) -> list[str]:
        from napari.layers import Image

        return [layer.name for layer in self.viewer.layers if isinstance(layer, Image) and layer.ndim == 2
                and not layer.name.endswith(" heatmaps")]  # fmt: skip

    def model_name(self) -> str:
        browsed = str(self.browse.value or "").strip()
        if browsed and browsed != "." and Path(browsed).is_dir():
            return browsed
        return "default" if self.model.value in (None, DEFAULT_MODEL) else str(self.model.value)

    def run(self) -> None:
        from napari.qt.threading import thread_worker

        from napari_apn._detect import _predictor, predict_layer, result_layers

        if not self.image.value:
            self._error("open a 2-D radiograph first")
            return
        layer = self.viewer.layers[self.image.value]
        model = self.model_name()
        from napari_apn._layers import layer_spacing_mm

        data, spacing, name = layer.data, layer_spacing_mm(layer), layer.name
        frame = (tuple(layer.scale), tuple(layer.translate), tuple(layer.units))

        @thread_worker
        def work():
            # Errors come back as data: the user gets one clear notification, never a traceback.
            try:
                yield "loading model"
                _predictor(model)
                yield "predicting"
                prediction = predict_layer(data, spacing, model)
                return result_layers(prediction, name, *frame)
            except Exception as exc:
                log.debug("detect failed", exc_info=True)
                return WorkerError(str(exc))

        self.worker = work()
        self.worker.yielded.connect(self._stage)
        self.worker.returned.connect(self._done)
        self.worker.finished.connect(self._reset)
        self._busy(True)
        self.worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()
            self.status.value = "cancelled"

    def _stage(self, stage: str) -> None:
        self.progress.value = min(self.progress.value + 1, self.progress.max)
        self.status.value = stage + "…"

    def _done(self, layer_tuples) -> None:
        from napari_apn._detect import show_results

        if isinstance(layer_tuples, WorkerError):
            self._error(str(layer_tuples))
            return
        layers = show_results(self.viewer, layer_tuples, self.heatmaps.value)
        absent = layers[0].metadata.get("apn_absent", [])
        self.status.value = f"{len(layers[0].data)} landmarks" + (
            f"; absent: {', '.join(absent)}" if absent else ""
        )
        if layers[0].metadata.get("apn_spacing_mm") is None:
            self.status.value += "; the image layer has no pixel spacing in mm: no mm outputs"

    def _error(self, message: str) -> None:
        from napari.utils.notifications import show_error

        self.status.value = "failed"
        show_error(f"Detect landmarks: {message}")

    def _busy(self, busy: bool) -> None:
        self.run_button.enabled = not busy
        self.cancel_button.enabled = busy
        self.progress.visible = busy
        self.progress.value = 0

    def _reset(self) -> None:
        self._busy(False)
        self.worker = None
