"""Annotate widget: correct the model's points on a folder of radiographs, save them to the
folder's landmarks.csv, and fine-tune the model on the reviewed images.

The folder's images are listed with a status and the model's uncertainty (predicted in a
worker thread, cached in ``DATA/.apn-annotate.json``; see :mod:`napari_apn._annotate`).
Opening one shows it in its spacing with its saved points, else the model's, in one
landmarks layer coloured by label. Keys (bound on the viewer and on the two layers, which
take them before napari's own layer keys): 1–6 choose a landmark; a click in add mode
places it there (moving its point if it has one); ``A`` marks it not in this image;
``N``/``P`` open the next/previous image of the list (saving changes first); ``R`` saves
and marks the image reviewed. Fine-tuning runs ``apn train`` on the reviewed images with
``--init`` the current model (:class:`~napari_apn._qt.train_widget.TrainingRunner`);
the new run then pre-places the points.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
)
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem

from napari_apn._annotate import BY_NAME, BY_UNCERTAINTY, Session
from napari_apn._qt._common import chosen_folder
from napari_apn._qt.detect_widget import DEFAULT_MODEL
from napari_apn._qt.train_widget import TrainingRunner
from napari_apn._runs import recent_runs, remember

NAMES = ("femur_right", "femur_left", "knee_right", "knee_left", "ankle_right", "ankle_left")
KEYS_HELP = (
    "Keys: 1–6 choose the landmark · click places it (or moves its point) · "
    "A: not in this image · N / P: next / previous image (saves changes) · "
    "R: reviewed (saves) · S: select and drag points · Z: pan/zoom"
)


class AnnotateWidget(Container):
    def __init__(self, napari_viewer) -> None:
        from napari_apn._points import watch
        from napari_apn._train import train_options

        super().__init__()
        self.viewer = napari_viewer
        watch(napari_viewer)
        self.help = Label(value=KEYS_HELP)
        self.help.native.setWordWrap(True)
        self.folder = FileEdit(label="folder", mode="d", value="")
        self.open_button = PushButton(text="Open folder")
        self.model = ComboBox(label="model", choices=lambda _w: [DEFAULT_MODEL, *recent_runs()])
        self.browse = FileEdit(label="or run folder", mode="d", value="")
        self.fallback = FloatSpinBox(label="spacing if none (mm/px)", min=0, max=5, step=0.001)
        self.fallback.native.setDecimals(4)
        self.order = ComboBox(label="order", choices=[BY_UNCERTAINTY, BY_NAME])
        self.cancel_button = PushButton(text="Cancel predictions", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=1, value=0, visible=False)
        self.status = Label(value="")
        self.current = Label(value="")
        self.marks = Label(value="")
        self.reviewed = CheckBox(text="reviewed (R)", value=False, enabled=False)
        buttons = [
            PushButton(text=t) for t in ("◀ Previous (P)", "Next (N) ▶", "Absent (A)", "Save")
        ]
        self.previous_button, self.next_button, self.absent_button, self.save_button = buttons
        self.run = FileEdit(label="run folder", mode="d", value="")
        self.minutes = FloatSpinBox(label="time budget (min)", min=0, max=1000, step=0.5, value=5)
        self.unlabelled = CheckBox(text="use the other images as unlabelled data", value=True)
        self.unlabelled.visible = "--unlabelled" in train_options()
        self.finetune_button = PushButton(text="Fine-tune on reviewed images")
        self.stop_button = PushButton(text="Stop fine-tuning", enabled=False)
        self.finetune_progress = ProgressBar(label="", min=0, max=1, value=0)
        self.finetune_status = Label(value="")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["image", "status", "uncertainty"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(160)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.extend(
            [
                self.help,
                self.folder,
                self.open_button,
                self.model,
                self.browse,
                self.fallback,
                self.order,
                self.cancel_button,
                self.progress,
                self.status,
                self.current,
                self.marks,
                self.reviewed,
                Container(widgets=buttons[:2], layout="horizontal", labels=False),
                Container(widgets=buttons[2:], layout="horizontal", labels=False),
                self.run,
                self.minutes,
                self.unlabelled,
                self.finetune_button,
                self.stop_button,
                self.finetune_progress,
                self.finetune_status,
            ]
        )
        self.native.layout().insertWidget(10, self.table)
        self.open_button.changed.connect(lambda: self.open_folder())
        self.model.changed.connect(self._model_changed)
        self.browse.changed.connect(self._browsed)
        self.order.changed.connect(self.refresh)
        self.cancel_button.changed.connect(self.cancel_predictions)
        self.previous_button.changed.connect(self.previous_image)
        self.next_button.changed.connect(self.next_image)
        self.absent_button.changed.connect(self.mark_absent)
        self.save_button.changed.connect(self.save)
        self.reviewed.changed.connect(self._review_ticked)
        self.finetune_button.changed.connect(self.finetune)
        self.stop_button.changed.connect(self.stop_finetune)
        self.table.cellClicked.connect(lambda row, _col: self.open_image(self.rows[row]))
        self.runner = TrainingRunner()
        self.runner.event.connect(self._finetune_event)
        self.runner.ended.connect(self._finetune_ended)
        self.session: Session | None = None
        self.model_id: str | None = None
        self.rows: list[str] = []
        self.list_worker = self.open_worker = None
        self._cancel_list = threading.Event()
        self._pending = False
        self._quiet = False  # True while the widget sets its own controls
        self.image: str | None = None  # the image shown, its layers and what is marked
        self.image_layer = self.points = None
        self.spacing: tuple[float, float] | None = None
        self.absent: set[str] = set()
        self.chosen = NAMES[0]
        self.dirty = False
        self._bind_keys(self.viewer)
        viewer, keys = self.viewer, list(self._keys())
        self.native.destroyed.connect(lambda *_: [viewer.bind_key(k, None) for k in keys])

    # ----- model ----------------------------------------------------------------------
    def model_name(self) -> str:
        return "default" if self.model.value in (None, DEFAULT_MODEL) else str(self.model.value)

    def _set_model(self, name: str) -> None:
        if name != "default":
            remember(name)
        self.model.reset_choices()
        self.model.value = DEFAULT_MODEL if name == "default" else str(Path(name).resolve())

    def _browsed(self, *_args) -> None:
        from apn_core.runs import is_run

        folder = chosen_folder(self.browse)
        if folder is None:
            return
        if not is_run(folder):
            self._fail(f"{folder}: not a run folder (no config.json)")
            return
        self._set_model(str(folder))

    def _model_changed(self, *_args) -> None:
        if self.session is None or self._quiet:
            return
        self.session.state.model = self.model_name()
        self.predict_list()

    # ----- folder and list ------------------------------------------------------------
    def open_folder(self, folder: str | Path | None = None) -> bool:
        """Open a folder: list its images, predict what is not cached, open where work
        stopped (the first image of the list the first time)."""
        from napari.utils.notifications import show_warning

        from apn_core.errors import ApnError
        from apn_core.runs import is_run

        folder = Path(folder) if folder is not None else chosen_folder(self.folder)
        if folder is None:
            return self._fail("choose a folder of radiographs")
        if not self.save_if_changed():
            return False
        self.cancel_predictions()
        try:
            session = Session.open(folder)
        except ApnError as exc:
            return self._fail(str(exc))
        self._close_image()
        self.session = session
        for warning in filter(None, [session.warning]):
            show_warning(f"Annotate: {warning}")
        if session.csv_problems:
            show_warning(
                f"Annotate: {folder / 'landmarks.csv'}: {session.csv_problems} bad row(s) "
                "skipped (run 'apn check'); saving an image replaces only its own rows"
            )
        model = session.state.model
        if model != "default" and not is_run(model):
            show_warning(f"Annotate: the model {model} is gone; using the bundled model")
            model = session.state.model = "default"
        self._quiet = True
        self._set_model(model)
        self._quiet = False
        self.predict_list()
        current = session.state.current
        return self.open_image(current if current in session.images else self.rows[0])

    def predict_list(self) -> None:
        """Predict, in a worker thread, the images the current model has not predicted."""
        from napari.qt.threading import thread_worker

        from apn_core.errors import ApnError
        from napari_apn._annotate import model_identity, predict_images

        self.cancel_predictions()
        session, model = self.session, self.model_name()
        try:
            self.model_id = model_identity(model)
        except ApnError as exc:
            self.model_id = None
            self.refresh()
            self._fail(str(exc))
            return
        stale = session.stale(self.model_id)
        self.refresh()
        if not stale:
            self.status.value = f"{len(session.images)} images; predictions up to date"
            return
        items = [(rel, *session.read_args(rel, self.fallback.value or None)) for rel in stale]
        cancel = self._cancel_list = threading.Event()
        worker = thread_worker(predict_images, ignore_errors=True)(items, model, cancel.is_set)
        model_id = self.model_id
        worker.yielded.connect(lambda result: self._predicted(session, model_id, *result))
        worker.errored.connect(lambda exc: self._fail(str(exc)))
        worker.finished.connect(lambda: self._list_finished(worker))
        self.list_worker = worker
        self.progress.max, self.progress.value, self.progress.visible = len(items), 0, True
        self.cancel_button.enabled = True
        self.status.value = f"predicting {len(items)} image(s)…"
        worker.start()

    def cancel_predictions(self) -> None:
        """Stop predicting after the current image (what is done stays cached)."""
        if self.list_worker is not None:
            self._cancel_list.set()
            self.status.value = "cancelling after the current image…"

    def _predicted(self, session: Session, model_id: str, rel: str, result) -> None:
        session.store(model_id, rel, result)
        if session is self.session:
            self.progress.value = min(self.progress.value + 1, self.progress.max)
            self._schedule()

    def _list_finished(self, worker) -> None:
        if worker is not self.list_worker:  # a cancelled run that a new one replaced
            return
        cancelled, self.list_worker = self._cancel_list.is_set(), None
        self.progress.visible, self.cancel_button.enabled = False, False
        if self.session is not None:
            self.session.write_state()
            bad = len(self.session.problems)
            self.status.value = ("cancelled" if cancelled else "predictions done") + (
                f"; {bad} image(s) could not be read (see the list)" if bad else ""
            )
        self.refresh()

    def _schedule(self) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(200, self._scheduled)

    def _scheduled(self) -> None:
        self._pending = False
        self.refresh()

    def refresh(self, *_args) -> None:
        """Redraw the list (in the chosen order) and the current image's marks."""
        session = self.session
        if session is None:
            return
        self.rows = session.ordered(self.order.value, self.model_id)
        self.table.setRowCount(len(self.rows))
        for row, rel in enumerate(self.rows):
            cached = session.prediction(rel, self.model_id)
            score = f"{cached.uncertainty().score:.2f}" if cached is not None else "–"
            cells = [rel, session.status(rel, self.model_id), score]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(session.problems.get(rel, text))
                self.table.setItem(row, col, item)
        if self.image in self.rows:
            self.table.selectRow(self.rows.index(self.image))
        self._show_marks()

    # ----- one image ------------------------------------------------------------------
    def open_image(self, rel: str) -> bool:
        """Open ``rel`` (in a worker thread), saving the current image's changes first."""
        from napari.qt.threading import thread_worker

        from napari_apn._annotate import load_view

        session = self.session
        if session is None or self.open_worker is not None or not self.save_if_changed():
            return False
        read = session.read_args(rel, self.fallback.value or None)
        cached = session.prediction(rel, self.model_id)
        worker = thread_worker(load_view, ignore_errors=True)(
            rel, read, session.saved(rel), cached, self.model_name()
        )
        model_id = self.model_id
        worker.returned.connect(lambda view: self._show(view, session, model_id))
        worker.errored.connect(lambda exc: self._open_failed(session, rel, exc))
        worker.finished.connect(self._opened)
        self.open_worker = worker
        self.status.value = f"opening {rel}…"
        worker.start()
        return True

    def _opened(self) -> None:
        self.open_worker = None

    def _open_failed(self, session: Session, rel: str, exc: Exception) -> None:
        session.problems[rel] = str(exc)
        self.refresh()
        self._fail(str(exc))

    def _show(self, view, session: Session, model_id: str | None) -> None:
        from napari.layers import Layer
        from napari.utils.notifications import show_warning

        from napari_apn._layers import ImageRef, image_layer_data, points_layer_data

        if view.prediction is not None and model_id is not None:
            session.store(model_id, view.image, view.prediction)
        if session is not self.session:  # another folder was opened meanwhile
            return
        self._close_image()
        radiograph = view.radiograph
        name = Path(view.image).name
        image = image_layer_data(radiograph, name=name, image=view.image)
        ref = ImageRef(view.image, str(radiograph.path.resolve()), radiograph.spacing)
        data, kwargs, kind = points_layer_data(
            view.labels, f"{name} landmarks", ref, confidence=view.confidence, source=view.source
        )
        kwargs["metadata"]["apn_absent"] = list(view.absent)
        self.image_layer = self.viewer.add_layer(Layer.create(*image))
        self.points = self.viewer.add_layer(Layer.create(data, kwargs, kind))
        self.image, self.spacing = view.image, radiograph.spacing
        self.absent, self.dirty = set(view.absent), False
        self._wire(self.points)
        placed = self._placed()
        self.choose(next((i for i, n in enumerate(NAMES) if n not in placed | self.absent), 0))
        self.points.mode = "add"
        self.viewer.layers.selection.active = self.points
        session.state.current = view.image
        session.write_state()
        self._quiet = True
        self.reviewed.enabled, self.reviewed.value = True, view.image in session.state.reviewed
        self._quiet = False
        self.status.value = f"{view.image}: points from {view.source}"
        if radiograph.spacing is None:
            show_warning(
                f"Annotate: {view.image} has no pixel spacing: its points are in pixels; "
                "set 'spacing if none' (mm/px) and open it again, or add spacing_mm to "
                "landmarks.csv"
            )
            self.status.value += "; no spacing (pixel units)"
        self.refresh()

    def _close_image(self) -> None:
        for layer in (self.points, self.image_layer):
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.image_layer = self.points = self.image = None
        self.absent, self.dirty = set(), False
        self.reviewed.enabled = False

    def _wire(self, layer) -> None:
        """Keys on the two layers (they come before napari's layer keys), and the point
        handlers: run before the add-guard, so a point added for a landmark that has one
        moves it instead of being refused as a duplicate."""
        self._bind_keys(layer, self.image_layer)
        layer.events.data.connect(self._on_data, position="first")
        layer.events.features.connect(self._on_features)
        layer.selected_data.events.active.connect(self._on_selected)

    def _placed(self) -> set[str]:
        from napari_apn._points import placed

        return set(placed(self.points)) if self.points is not None else set()

    def _on_data(self, event) -> None:
        from napari_apn._points import placed

        action = str(getattr(event.action, "value", event.action))
        if action == "added":
            labels = placed(self.points)
            new = {i % len(labels) for i in event.data_indices}
            for i in new:
                older = [j for j, n in enumerate(labels) if n == labels[i] and j not in new]
                if labels[i] == self.chosen and older:
                    self.points.remove(older)  # a move: the new point replaces the old
                self.absent.discard(labels[i])
        if action in ("added", "removed", "changed"):
            self.dirty = True
            self._schedule()

    def _on_features(self, _event=None) -> None:
        self.dirty = True
        self._schedule()

    def _on_selected(self, index: int | None) -> None:
        """Selecting one point chooses its landmark (what ``A`` then marks)."""
        from napari_apn._points import placed

        labels = placed(self.points) if self.points is not None else []
        index = -1 if index is None else index
        name = labels[index] if 0 <= index < len(labels) else None
        if name in NAMES and name != self.chosen:
            self.choose(NAMES.index(name))

    def _show_marks(self) -> None:
        if self.image is None:
            self.current.value = self.marks.value = ""
            return
        at = self.rows.index(self.image) + 1 if self.image in self.rows else 0
        self.current.value = f"{at}/{len(self.rows)}: {self.image}" + (" *" if self.dirty else "")
        placed = self._placed()
        parts = []
        for i, name in enumerate(NAMES):
            state = "✓" if name in placed else "absent" if name in self.absent else "–"
            parts.append(f"{'▶' if name == self.chosen else ' '}{i + 1} {name} {state}")
        self.marks.value = "\n".join("   ".join(parts[i : i + 2]) for i in range(0, 6, 2))

    # ----- keys -----------------------------------------------------------------------
    def _keys(self) -> dict:
        keys = {str(i + 1): (lambda i=i: self.choose(i)) for i in range(len(NAMES))}
        keys |= {"A": self.mark_absent, "N": self.next_image, "P": self.previous_image}
        return keys | {"R": self.mark_reviewed}

    def _bind_keys(self, *providers) -> None:
        def bound(action):
            def on_key(_provider) -> None:
                action()

            return on_key

        for key, action in self._keys().items():
            for provider in providers:
                provider.bind_key(key, bound(action), overwrite=True)

    def choose(self, index: int) -> None:
        """Make landmark ``index`` (0–5) the one a click places or moves."""
        from napari_apn._points import choose

        self.chosen = NAMES[index]
        if self.points is not None:
            choose(self.points, self.chosen)
        self._show_marks()

    def mark_absent(self) -> None:
        """The chosen landmark is not in this image: its point goes, the absence is saved."""
        from napari_apn._points import placed

        if self.points is None:
            return
        mine = [i for i, n in enumerate(placed(self.points)) if n == self.chosen]
        if mine:
            self.points.remove(mine)
        self.absent.add(self.chosen)
        self.dirty = True
        self._show_marks()

    def next_image(self) -> bool:
        return self._step(+1)

    def previous_image(self) -> bool:
        return self._step(-1)

    def _step(self, by: int) -> bool:
        if self.image not in self.rows:
            return False
        at = self.rows.index(self.image) + by
        if 0 <= at < len(self.rows):
            return self.open_image(self.rows[at])
        self.save_if_changed()
        self.status.value = "this is the " + ("last" if by > 0 else "first") + " image"
        return False

    def mark_reviewed(self) -> bool:
        """Save the image's points (as shown) and mark it reviewed."""
        if self.image is None or not self.save():
            return False
        self.session.set_reviewed(self.image)
        self.session.write_state()
        self._quiet = True
        self.reviewed.value = True
        self._quiet = False
        self.refresh()
        return True

    def _review_ticked(self, value: bool) -> None:
        if self._quiet or self.image is None:
            return
        if value:
            self.mark_reviewed()
        else:
            self.session.set_reviewed(self.image, False)
            self.session.write_state()
            self.refresh()

    # ----- saving ---------------------------------------------------------------------
    def save_if_changed(self) -> bool:
        return self.save() if self.dirty else True

    def save(self) -> bool:
        """Write the image's rows of landmarks.csv: its points, and empty x,y for the
        landmarks marked absent. A landmark with two points is refused (nothing written)."""
        from apn_core.errors import ApnError
        from napari_apn._layers import labels_from_points
        from napari_apn._points import placed

        if self.image is None:
            return True
        try:
            labels = labels_from_points(
                self.points.data, placed(self.points), self.image, self.points.name
            )
            for name in self.absent:
                i = NAMES.index(name)
                labels.xy[i], labels.annotated[i] = np.nan, True
            labels.spacing = self.spacing
            path = self.session.save(self.image, labels)
            self.session.write_state()
        except (ApnError, OSError) as exc:
            return self._fail(f"{self.image} not saved: {exc}")
        self.dirty = False
        self.status.value = f"saved {self.image} to {path}"
        self.refresh()
        return True

    def _fail(self, message: str) -> bool:
        from napari.utils.notifications import show_error

        self.status.value = f"failed: {message}"
        show_error(f"Annotate: {message}")
        return False

    # ----- fine-tuning ----------------------------------------------------------------
    def finetune(self) -> bool:
        """``apn train`` on the reviewed images (a generated folder of links inside the run
        folder; DATA is not touched) from the current model, in a separate process."""
        from apn_core.errors import ApnError
        from napari_apn._train import train_command

        session = self.session
        if self.runner.running or session is None or not self.save_if_changed():
            return False
        reviewed = session.reviewed_images()
        if not reviewed:
            return self._fail("no reviewed image yet: correct the points and press R")
        run = chosen_folder(self.run)
        if run is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            run = Path.cwd() / "runs" / f"{session.root.name}-finetune-{stamp}"
            self.run.value = run
        if run.exists() and (not run.is_dir() or any(run.iterdir())):
            return self._fail(f"{run}: not an empty folder; choose a new run folder")
        options = ["--init", self.model_name(), "--preset", "finetune"]
        if self.minutes.value > 0:
            options += ["--max-minutes", str(self.minutes.value)]
        try:
            data = session.training_folder(run / "reviewed", reviewed)
            others = [r for r in session.images if r not in reviewed]
            if self.unlabelled.visible and self.unlabelled.value and others:
                unlabelled = session.training_folder(run / "unlabelled", others, False)
                options += ["--unlabelled", str(unlabelled)]
        except (ApnError, OSError) as exc:
            return self._fail(f"cannot prepare the training data in {run}: {exc}")
        self.runner.start(train_command(data, run, *options), run)
        self.finetune_button.enabled, self.stop_button.enabled = False, True
        self.finetune_status.value = f"fine-tuning on {len(reviewed)} reviewed image(s)…"
        return True

    def stop_finetune(self) -> None:
        if self.runner.running:
            self.runner.stop()
            self.finetune_status.value = "stopping after the current step…"

    def _finetune_event(self, _e: dict) -> None:
        progress = self.runner.progress
        self.finetune_progress.max, self.finetune_progress.value = progress.total, progress.done
        if progress.text:
            self.finetune_status.value = progress.text

    def _finetune_ended(self, result) -> None:
        self.finetune_button.enabled, self.stop_button.enabled = True, False
        run = self.runner.run
        if result.state == "failed":
            self.finetune_status.value = f"failed: {result.message}"
            self._fail(f"fine-tuning: {result.message}")
        elif result.usable:
            self.finetune_status.value = f"{result.state}: {run} now pre-places the points"
            self._set_model(str(run))  # predicts the list again with the new model
        else:
            self.finetune_status.value = f"{result.state} without weights"
