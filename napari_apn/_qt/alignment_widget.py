"""Leg alignment widget: HKA, MAD and lengths of the selected landmarks layer, updated live
while a point is dragged; mechanical axes drawn as a Shapes layer; export and save back.

napari (0.9) emits ``Points.events.data`` once before a drag ("changing", old positions)
and once on release ("changed"); during the drag the layer's data events are blocked. So
the table follows the drag through a mouse-drag callback, every other change (added,
removed, set from code, release) through ``events.data``, and relabelling through
``events.features`` (refreshes are coalesced: at most one per turn of the event loop).

The layer menu offers landmarks layers (newest first, so Detect's result is chosen), then
other Points layers with a ``label`` feature — never Detect's *second candidates*, which
are alternatives, not a leg. Measurements that use an absent or flagged landmark show "–"
with the reason (:mod:`napari_apn._alignment`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, PushButton, Table
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QStyledItemDelegate

from napari_apn._alignment import (
    ROWS,
    axes_shapes,
    lld_text,
    measure,
    save_to_labelled_folder,
    table_rows,
)
from napari_apn._calibration import calibration_text
from napari_apn._qt._common import StatusLabel, chosen_folder


class AlignmentWidget(Container):
    def __init__(self, napari_viewer) -> None:
        from napari_apn._points import watch

        super().__init__()
        self.viewer = napari_viewer
        watch(napari_viewer)
        self.points = ComboBox(label="landmarks", choices=self._points_layers)
        self.table = Table(value={"right": [None] * len(ROWS), "left": [None] * len(ROWS)})
        self.table.row_headers = ROWS
        self.table.min_height = 190
        self.table.native.setItemDelegate(QStyledItemDelegate())  # texts as given (1 decimal)
        self.lld = StatusLabel()
        self.calibration = Label(label="spacing", value="")
        self.export = FileEdit(label="export CSV", mode="w", filter="*.csv", value="alignment.csv")
        self.export_button = PushButton(text="Export measurements")
        self.folder = FileEdit(label="labelled folder", mode="d", value="")
        self.save_button = PushButton(text="Save corrected points to folder")
        self.status = StatusLabel()
        self.extend(
            [
                self.points,
                self.table,
                self.lld,
                self.calibration,
                self.export,
                self.export_button,
                self.folder,
                self.save_button,
                self.status,
            ]
        )
        self.points.changed.connect(self._watch)
        self.export_button.changed.connect(self.export_csv)
        self.save_button.changed.connect(self.save_points)
        self._watched = None
        self._pending = False
        self._watch()

    def _points_layers(self, _widget=None) -> list[str]:
        """Landmarks layers (newest first), then other labelled Points layers; never a
        layer of second candidates."""
        from napari.layers import Points

        from napari_apn._points import is_landmarks_layer

        labelled = [
            ly
            for ly in reversed(list(self.viewer.layers))
            if isinstance(ly, Points)
            and "label" in ly.features
            and not (ly.metadata or {}).get("apn_second_candidates")
        ]
        ordered = sorted(labelled, key=lambda ly: not is_landmarks_layer(ly))  # stable
        return [ly.name for ly in ordered]

    def _watch(self, *_args) -> None:
        if self._watched is not None:
            self._watched.events.data.disconnect(self._on_data)
            self._watched.events.features.disconnect(self._schedule)
            if self._on_drag in self._watched.mouse_drag_callbacks:
                self._watched.mouse_drag_callbacks.remove(self._on_drag)
        name = self.points.value
        self._watched = self.viewer.layers[name] if name in self.viewer.layers else None  # noqa: SIM401 - LayerList has no .get
        if self._watched is not None:
            self._watched.events.data.connect(self._on_data)
            self._watched.events.features.connect(self._schedule)  # a point relabelled
            self._watched.mouse_drag_callbacks.append(self._on_drag)
        self.update()

    def _on_data(self, event) -> None:
        action = getattr(event, "action", None)
        if str(getattr(action, "value", action)) not in ("changing", "adding", "removing"):
            self.update()  # the "-ing" events carry the positions before the change

    def _on_drag(self, _layer, event):
        """Refresh after each mouse move of a drag, once napari has moved the point (drag
        callbacks run in order and napari's own select-mode callback may come after)."""
        yield
        while event.type == "mouse_move":
            self._schedule()
            yield

    def _schedule(self, *_args) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self._scheduled)

    def _scheduled(self) -> None:
        self._pending = False
        self.update()

    def update(self, *_args) -> dict | None:
        layer = self._watched
        if layer is None:
            return None
        self._draw_axes(layer)
        measured = measure(layer)
        rows, reasons = table_rows(measured)
        self.table.value = {
            "data": [list(r) for r in zip(*rows.values(), strict=True)],
            "index": list(ROWS),
            "columns": ["right", "left"],
        }
        self.lld.value = lld_text(measured)
        self.calibration.value = calibration_text(self.viewer, layer)
        self.status.value = measured.problem or "; ".join(reasons)
        return measured.result

    def _draw_axes(self, layer) -> None:
        name = f"{layer.name} axes"
        lines = axes_shapes(layer)
        if name in self.viewer.layers:
            shapes = self.viewer.layers[name]
            shapes.data = []
            if lines:
                shapes.add_paths(lines)
        elif lines:
            self.viewer.add_shapes(
                lines,
                shape_type="path",
                name=name,
                scale=layer.scale,
                translate=layer.translate,
                units=layer.units,
                edge_color="yellow",
                edge_width=1.5 / min(layer.scale[-2:]),
            )

    def export_csv(self) -> None:
        """Write the table as ``side,hka_deg,…,lld_mm,note`` (empty cells where the table
        shows "–", the reason in ``note``, as in ``measurements.csv``), atomically."""
        import io

        from apn_core.utils.atomic import write_text_atomic

        layer = self._watched
        if layer is None or self.update() is None:
            return
        measured = measure(layer)
        _, reasons = table_rows(measured)
        notes = {r.split(": ", 1)[0]: r.split(": ", 1)[1] for r in reasons}
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["side", *ROWS, "lld_mm", "note"])
        for side in ("right", "left"):
            values = [*(measured.result[side][k] for k in ROWS), measured.result["lld_mm"]]
            cells = ["" if v is None or not np.isfinite(v) else f"{v:.3f}" for v in values]
            w.writerow([side, *cells, notes.get(side, "")])
        path = Path(self.export.value)
        try:
            write_text_atomic(path, buf.getvalue())
        except OSError as exc:
            self.status.value = f"not exported: {exc}"
            return
        self.status.value = f"exported {path}"

    def save_points(self) -> None:
        from napari.utils.notifications import show_error

        from apn_core.errors import ApnError

        folder = chosen_folder(self.folder)
        if self._watched is None or folder is None or not folder.is_dir():
            show_error("Leg alignment: choose a landmarks layer and an existing labelled folder")
            return
        try:
            self.status.value = f"saved to {save_to_labelled_folder(self._watched, folder)}"
        except ApnError as exc:
            self.status.value = "not saved"
            show_error(f"Leg alignment: {exc}")
