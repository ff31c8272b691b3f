"""Detect landmarks widget: pick an image layer and a model, run in a worker thread.

The UI never blocks: the bundled model loads in a background thread when the widget opens
(the first click does not wait for torch and the weights), and predicting (loading any
other model) runs in a worker (:class:`~napari_apn._qt.tasks.Task`) that returns
LayerDataTuples; the progress bar shows the stage, Cancel discards the run (a cancelled
run's late finish is ignored), and errors come back through the worker's ``errored``
signal (napari shows them as a notification; the status line says "failed: …"). The
landmarks that need review are listed below with their whole reason (the canvas shows
the start of it). Docked with ``add_dock_widget``, the layer list stays in sync through
napari's own ``reset_choices`` wiring.
"""

from __future__ import annotations

from magicgui.widgets import CheckBox, ComboBox, Container, ProgressBar, PushButton

from napari_apn._qt._common import StatusLabel
from napari_apn._qt.model_picker import DEFAULT_MODEL, ModelPicker
from napari_apn._qt.tasks import Task

__all__ = ["DEFAULT_MODEL", "DetectWidget"]


def _detect_steps(source, model: str, show: bool):
    """The worker: load the model, look for a ruler on a film without a spacing, predict,
    build the layers (a generator of stages); returns the layers and the ruler's estimate
    (None when not looked for or not found)."""
    from napari_apn._calibration import with_object_spacing
    from napari_apn._detect import predict_layer, result_layers
    from napari_apn._models import predictor

    yield "loading model"
    predictor(model)
    image, found = source, None
    if source.ref.spacing is None:  # an export without spacing: a ruler on the film?
        yield "looking for a ruler"
        image, found = with_object_spacing(source)
    yield "predicting"
    return result_layers(predict_layer(image, model), image, show), found


class DetectWidget(Container):
    def __init__(self, napari_viewer, warm_up: bool = True) -> None:
        """``warm_up``: load the bundled model in the background now, so the first click
        does not wait for it (:func:`napari_apn._models.warm_up`)."""
        from napari_apn._points import watch

        super().__init__()
        self.viewer = napari_viewer
        watch(napari_viewer)
        self.image = ComboBox(label="image", choices=self._image_layers)
        self.picker = ModelPicker()
        self.model, self.browse = self.picker.choice, self.picker.browse
        self.heatmaps = CheckBox(text="show heatmaps", value=True)
        self.run_button = PushButton(text="Detect landmarks")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=2, value=0, visible=False)
        self.status = StatusLabel()
        self.review = StatusLabel()
        self.extend(
            [
                self.image,
                self.picker,
                self.heatmaps,
                self.run_button,
                self.cancel_button,
                self.progress,
                self.status,
                self.review,
            ]
        )
        self.task = Task(
            "Detect landmarks",
            self.run_button,
            self.cancel_button,
            self.progress,
            self.status,
            hide_bar=True,
            owner=self,
        )
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.heatmaps.changed.connect(self._show_heatmaps)
        self.warm_up = None
        if warm_up:
            from napari_apn._models import start_warm_up

            self.warm_up = start_warm_up("default")

    @property
    def worker(self):
        """The running worker (``None`` when idle)."""
        return self.task.worker

    def _image_layers(self, _widget=None) -> list[str]:
        from napari.layers import Image

        return [
            layer.name
            for layer in self.viewer.layers
            if isinstance(layer, Image) and layer.ndim == 2 and not layer.name.endswith(" heatmaps")
        ]

    def model_name(self) -> str:
        return self.picker.model() or "default"

    def _heatmap_layer(self):
        name = f"{self.image.value} heatmaps"
        return self.viewer.layers[name] if name in self.viewer.layers else None  # noqa: SIM401 - LayerList has no .get

    def _show_heatmaps(self, visible: bool) -> None:
        """Show or hide the current image's heatmaps now, not at the next run."""
        layer = self._heatmap_layer()
        if layer is not None:
            layer.visible = bool(visible)

    def run(self) -> None:
        from napari_apn._detect import ImageInput

        if not self.image.value:
            self._fail("open a 2-D radiograph first")
            return
        try:
            source = ImageInput.of(self.viewer.layers[self.image.value])
        except ValueError as exc:
            self._fail(str(exc))
            return
        self.review.value = ""
        self.task.start(
            _detect_steps,
            source,
            self.model_name(),
            self.heatmaps.value,
            yielded=self._stage,
            returned=self._done,
            errored=self._errored,
            total=3,
        )

    def cancel(self) -> None:
        self.task.cancel()

    def _stage(self, stage: str) -> None:
        self.status.value = stage + "…"
        self.task.describe(stage)

    def _done(self, result) -> None:
        from napari_apn._layers import add_or_update

        layer_tuples, found = result
        if found is not None and self.image.value in self.viewer.layers:
            from napari_apn._calibration import apply_spacing, describe_estimate

            image = self.viewer.layers[self.image.value]
            apply_spacing(self.viewer, image, found.spacing_mm, describe_estimate(found))

        points = add_or_update(self.viewer, layer_tuples)[-1]
        absent = points.metadata.get("apn_absent", [])
        status = f"{len(points.data)} landmarks" + (
            f"; absent: {', '.join(absent)}" if absent else ""
        )
        if points.metadata.get("apn_spacing_mm") is None:
            status += "; the image layer has no pixel spacing in mm: no mm outputs"
        self.status.value = status
        self.review.value = review_lines(points)

    def _errored(self, exc: Exception) -> None:
        """napari's worker already shows the error as a notification."""
        self.status.value = f"failed: {exc}"

    def _fail(self, message: str) -> None:
        from napari.utils.notifications import show_error

        self.status.value = f"failed: {message}"
        show_error(f"Detect landmarks: {message}")


def review_lines(points) -> str:
    """``needs review:`` and one line per flagged landmark with its whole reason."""
    if "review_reason" not in points.features:
        return ""
    pairs = zip(points.features["label"], points.features["review_reason"], strict=True)
    lines = [f"{name}: {reason}" for name, reason in pairs if reason]
    return "\n".join(["needs review:", *lines]) if lines else ""
