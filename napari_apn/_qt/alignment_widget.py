"""Leg alignment widget: HKA, MAD and lengths of the selected landmarks layer, updated live
while points are dragged; mechanical axes drawn as a Shapes layer; export and save back."""

from __future__ import annotations

import csv
from pathlib import Path

from magicgui.widgets import ComboBox, Container, FileEdit, Label, PushButton, Table

from napari_apn._alignment import (
    ROWS,
    axes_shapes,
    layer_alignment,
    save_to_labelled_folder,
    table_data,
)


class AlignmentWidget(Container):
    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.points = ComboBox(label="landmarks", choices=self._points_layers)
        self.table = Table(value={"right": [None] * len(ROWS), "left": [None] * len(ROWS)})
        self.table.row_headers = ROWS
        self.table.min_height = 190
        self.lld = Label(value="")
        self.export = FileEdit(label="export CSV", mode="w", filter="*.csv", value="alignment.csv")
        self.export_button = PushButton(text="Export measurements")
        self.folder = FileEdit(label="labelled folder", mode="d", value="")
        self.save_button = PushButton(text="Save corrected points to folder")
        self.status = Label(value="")
        self.extend([self.points, self.table, self.lld, self.export, self.export_button, self.folder,
                     self.save_button, self.status])  # fmt: skip
        self.points.changed.connect(self._watch)
        self.export_button.changed.connect(self.export_csv)
        self.save_button.changed.connect(self.save_points)
        self.viewer.layers.events.inserted.connect(self.points.reset_choices)
        self.viewer.layers.events.removed.connect(self.points.reset_choices)
        self._watched = None
        self._watch()

    def _points_layers(self, _widget=None) -> list[str]:
        from napari.layers import Points

        return [
            ly.name
            for ly in self.viewer.layers
            if isinstance(ly, Points) and "label" in ly.features
        ]

    def _watch(self, *_args) -> None:
        if self._watched is not None:
            self._watched.events.data.disconnect(self.update)
        name = self.points.value
        self._watched = self.viewer.layers[name] if name in self.viewer.layers else None  # noqa: SIM401 - LayerList has no .get
        if self._watched is not None:
            self._watched.events.data.connect(self.update)
        self.update()

    def update(self, *_args) -> dict | None:
        layer = self._watched
        if layer is None:
            return None
        self._draw_axes(layer)
        try:
            result = layer_alignment(layer)
        except ValueError as exc:  # no spacing: say so instead of showing pixels as mm
            result, self.lld.value, self.status.value = None, "", str(exc)
        rows = (
            table_data(result)
            if result
            else {"right": [None] * len(ROWS), "left": [None] * len(ROWS)}
        )
        self.table.value = {"data": list(map(list, zip(*rows.values(), strict=True))),
                            "index": list(ROWS), "columns": ["right", "left"]}  # fmt: skip
        if result:
            self.lld.value = f"leg-length discrepancy (R − L): {result['lld_mm']:.1f} mm"
        return result

    def _draw_axes(self, layer) -> None:
        name = f"{layer.name} axes"
        lines = axes_shapes(layer)
        if name in self.viewer.layers:
            shapes = self.viewer.layers[name]
            shapes.data = []
            if lines:
                shapes.add_paths(lines)
        elif lines:
            self.viewer.add_shapes(lines, shape_type="path", name=name, scale=layer.scale, translate=layer.translate, units=layer.units,
                                   edge_color="yellow", edge_width=1.5 / min(layer.scale[-2:]))  # fmt: skip

    def export_csv(self) -> None:
        result = self.update()
        if result is None:
            return
        path = Path(self.export.value)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["side", *ROWS, "lld_mm"])
            for side in ("right", "left"):
                w.writerow([side, *(result[side][k] for k in ROWS), result["lld_mm"]])
        self.status.value = f"exported {path}"

    def save_points(self) -> None:
        from napari.utils.notifications import show_error

        folder = Path(str(self.folder.value or ""))
        if self._watched is None or not folder.is_dir():
            show_error("Leg alignment: choose a landmarks layer and an existing labelled folder")
            return
        self.status.value = f"saved to {save_to_labelled_folder(self._watched, folder)}"
