"""Detect landmarks widget: pick an image layer and a model, run in a worker thread.

The UI never blocks: the bundled model loads in a background thread when the widget opens
(the first click does not wait for torch and the weights), and predicting (loading any
other model) runs in a napari ``thread_worker`` that returns LayerDataTuples; the
progress bar shows the stage, Cancel discards the run, and errors come back through the
worker's ``errored`` signal (napari shows them as a notification; the status line says
"failed: …"). Docked with ``add_dock_widget``, the layer list stays in sync through
napari's own ``reset_choices`` wiring.
"""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, ProgressBar, PushButton

from napari_apn._runs import recent_runs

DEFAULT_MODEL = "default (bundled)"


class DetectWidget(Container):
    def __init__(self, napari_viewer, warm_up: bool = True) -> None:
        """``warm_up``: load the bundled model in the background now, so the first click
        does not wait for it (:func:`napari_apn._detect.warm_up`)."""
        from napari_apn._points import watch

        super().__init__()
        self._found = None  # a ruler's estimate for an image without spacing (run)
        self.viewer = napari_viewer
        watch(napari_viewer)
        self.image = ComboBox(label="image", choices=self._image_layers)
        self.model = ComboBox(label="model", choices=lambda _w: [DEFAULT_MODEL, *recent_runs()])
        self.browse = FileEdit(label="or run folder", mode="d", value="")
        self.heatmaps = CheckBox(text="show heatmaps", value=True)
        self.run_button = PushButton(text="Detect landmarks")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=2, value=0, visible=False)
        self.status = Label(value="")
        self.extend(
            [
                self.image,
                self.model,
                self.browse,
                self.heatmaps,
                self.run_button,
                self.cancel_button,
                self.progress,
                self.status,
            ]
        )
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.heatmaps.changed.connect(self._show_heatmaps)
        self.worker = None
        self._cancelled = False
        self.warm_up = None
        if warm_up:
            from napari_apn._detect import start_warm_up

            self.warm_up = start_warm_up("default")

    def _image_layers(self, _widget=None) -> list[str]:
        from napari.layers import Image

        return [
            layer.name
            for layer in self.viewer.layers
            if isinstance(layer, Image) and layer.ndim == 2 and not layer.name.endswith(" heatmaps")
        ]

    def model_name(self) -> str:
        browsed = str(self.browse.value or "").strip()
        if browsed and browsed != "." and Path(browsed).is_dir():
            return browsed
        return "default" if self.model.value in (None, DEFAULT_MODEL) else str(self.model.value)

    def _heatmap_layer(self):
        name = f"{self.image.value} heatmaps"
        return self.viewer.layers[name] if name in self.viewer.layers else None  # noqa: SIM401 - LayerList has no .get

    def _show_heatmaps(self, visible: bool) -> None:
        """Show or hide the current image's heatmaps now, not at the next run."""
        layer = self._heatmap_layer()
        if layer is not None:
            layer.visible = bool(visible)

    def run(self) -> None:
        from napari.qt.threading import thread_worker

        from napari_apn._detect import ImageInput, _predictor, predict_layer, result_layers

        if not self.image.value:
            self._fail("open a 2-D radiograph first")
            return
        try:
            source = ImageInput.of(self.viewer.layers[self.image.value])
        except ValueError as exc:
            self._fail(str(exc))
            return
        model, show = self.model_name(), self.heatmaps.value

        self._found = None

        @thread_worker(ignore_errors=True)  # errors: the `errored` signal, below
        def work():
            from napari_apn._calibration import with_object_spacing

            yield "loading model"
            _predictor(model)
            image = source
            if image.ref.spacing is None:  # an export without spacing: a ruler on the film?
                yield "looking for a ruler"
                image, self._found = with_object_spacing(source)
            yield "predicting"
            return result_layers(predict_layer(image, model), image, show)

        self._cancelled = False
        self.worker = work()
        self.worker.yielded.connect(self._stage)
        self.worker.returned.connect(self._done)
        self.worker.errored.connect(self._errored)
        self.worker.finished.connect(self._finished)
        self._busy(True)
        self.worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self._cancelled = True
            self.worker.quit()
            self._busy(False)
            self.status.value = "cancelled"

    def _stage(self, stage: str) -> None:
        if self._cancelled:
            return
        self.progress.value = min(self.progress.value + 1, self.progress.max)
        self.status.value = stage + "…"

    def _done(self, layer_tuples) -> None:
        from napari_apn._layers import add_or_update

        if self._cancelled:  # a run cancelled after its last stage: discard its result
            return
        if self._found is not None and self.image.value in self.viewer.layers:
            from napari_apn._calibration import apply_spacing, describe_estimate

            image = self.viewer.layers[self.image.value]
            apply_spacing(
                self.viewer, image, self._found.spacing_mm, describe_estimate(self._found)
            )
        points = add_or_update(self.viewer, layer_tuples)[-1]
        absent = points.metadata.get("apn_absent", [])
        self.status.value = f"{len(points.data)} landmarks" + (
            f"; absent: {', '.join(absent)}" if absent else ""
        )
        if points.metadata.get("apn_spacing_mm") is None:
            self.status.value += "; the image layer has no pixel spacing in mm: no mm outputs"

    def _errored(self, exc: Exception) -> None:
        """napari's worker already shows the error as a notification."""
        self.status.value = f"failed: {exc}"

    def _fail(self, message: str) -> None:
        from napari.utils.notifications import show_error

        self.status.value = f"failed: {message}"
        show_error(f"Detect landmarks: {message}")

    def _busy(self, busy: bool) -> None:
        self.run_button.enabled = not busy
        self.cancel_button.enabled = busy
        self.progress.visible = busy
        self.progress.value = 0

    def _finished(self) -> None:
        self._busy(False)
        if self._cancelled:
            self.status.value = "cancelled"
        self.worker = None
