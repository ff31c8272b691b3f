"""Calibrate spacing: the pixel spacing of an image from the ruler or ball on the film, or
from a line drawn over a known length (as planning software calibrates). The widget only
gathers the choices; :mod:`napari_apn._calibration` does the work."""

from __future__ import annotations

from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, PushButton

from napari_apn._calibration import (
    LINE_LAYER,
    calibrate_from_line,
    calibrate_from_object,
    calibration_text,
)

OBJECTS = ("auto", "ruler", "ball:25mm", "ball:30mm")


class CalibrationWidget(Container):
    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.image = ComboBox(label="image", choices=self._image_layers)
        self.object = ComboBox(label="object", choices=OBJECTS, value="auto")
        self.find_button = PushButton(text="Find it on the film")
        self.draw_button = PushButton(text="Draw a line over a known length")
        self.length = FloatSpinBox(label="known length (mm)", value=25.0, min=0.1, max=3000.0)
        self.set_button = PushButton(text="Set spacing from the line")
        self.status = Label(value="")
        self.extend(
            [
                self.image,
                self.object,
                self.find_button,
                self.draw_button,
                self.length,
                self.set_button,
                self.status,
            ]
        )
        self.find_button.changed.connect(self.find)
        self.draw_button.changed.connect(self.draw)
        self.set_button.changed.connect(self.set_from_line)
        self.image.changed.connect(self.show)
        self.show()

    def _image_layers(self, _widget=None) -> list[str]:
        from napari.layers import Image

        return [ly.name for ly in self.viewer.layers if isinstance(ly, Image) and ly.ndim == 2]

    def _layer(self):
        name = self.image.value
        if not name or name not in self.viewer.layers:
            raise ValueError("open a 2-D radiograph first")
        return self.viewer.layers[name]

    def show(self, *_args) -> None:
        try:
            self.status.value = calibration_text(self.viewer, self._layer())
        except ValueError as exc:
            self.status.value = str(exc)

    def find(self, *_args) -> None:
        try:
            found = calibrate_from_object(self.viewer, self._layer(), self.object.value)
        except ValueError as exc:
            self.status.value = str(exc)
            return
        self.status.value = f"{found.spacing_mm:.4g} mm/px — {found.describe()}"

    def draw(self, *_args) -> None:
        try:
            image = self._layer()
        except ValueError as exc:
            self.status.value = str(exc)
            return
        if LINE_LAYER in self.viewer.layers:
            shapes = self.viewer.layers[LINE_LAYER]
        else:
            shapes = self.viewer.add_shapes(
                name=LINE_LAYER,
                ndim=2,
                scale=image.scale,
                translate=image.translate,
                units=image.units,
                edge_color="yellow",
                edge_width=2,
            )
        self.viewer.layers.selection.active = shapes
        shapes.mode = "add_line"
        self.status.value = "draw the line from one end of the object to the other"

    def set_from_line(self, *_args) -> None:
        try:
            image = self._layer()
            if LINE_LAYER not in self.viewer.layers:
                raise ValueError("draw a line first")
            calibrate_from_line(
                self.viewer, image, self.viewer.layers[LINE_LAYER], self.length.value
            )
        except ValueError as exc:
            self.status.value = str(exc)
            return
        self.show()
