"""Annotate widget: correct the model's points on a folder of radiographs, save them to the
folder's landmarks.csv, and fine-tune the model on the reviewed images.

The folder's images are listed with a status and the model's uncertainty (predicted in a
worker thread, cached in ``DATA/.apn-annotate.json``; see :mod:`napari_apn._annotate`).
Opening one shows it in its spacing with its saved points, else the model's, in one
landmarks layer coloured by label (:mod:`napari_apn._annotate_editor`). Keys, bound on
the viewer and on the two layers (which take them before napari's own layer keys): 1–6
choose a landmark; a click in add mode places it there (moving its point if it has one);
``A`` marks it not in this image; ``N``/``P`` open the next/previous image of the list
(saving changes first); ``R`` saves and marks the image reviewed. Fine-tuning
(:mod:`napari_apn._qt.annotate_finetune`) trains from the current model on the reviewed
images; the new run then pre-places the points.
"""

from __future__ import annotations

import threading
from pathlib import Path

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
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from napari_apn._annotate import BY_NAME, BY_UNCERTAINTY, Session
from napari_apn._annotate_editor import NAMES, ImageEditor, bind_keys, unbind_keys
from napari_apn._qt._common import chosen_folder
from napari_apn._qt.annotate_finetune import FinetunePanel
from napari_apn._qt.detect_widget import DEFAULT_MODEL
from napari_apn._runs import recent_runs, remember

KEYS_HELP = (
    "Keys: 1–6 choose the landmark · click places it (or moves its point) · "
    "A: not in this image · N / P: next / previous image (saves changes) · "
    "R: reviewed (saves) · S: select and drag points · Z: pan/zoom"
)


class AnnotateWidget(Container):
    def __init__(self, napari_viewer) -> None:
        from napari_apn._points import watch

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
        self.finetune = FinetunePanel(self)
        buttons = [
            PushButton(text=t) for t in ("◀ Previous (P)", "Next (N) ▶", "Absent (A)", "Save")
        ]
        self.previous_button, self.next_button, self.absent_button, self.save_button = buttons
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["image", "status", "uncertainty"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(160)
        header = self.table.horizontalHeader()
        for column in (0, 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
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
                self.finetune,
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
        self.table.cellClicked.connect(lambda row, _col: self.open_image(self.rows[row]))
        self.session: Session | None = None
        self.model_id: str | None = None
        self.rows: list[str] = []
        self.list_worker = self.open_worker = None
        self._cancel_list = threading.Event()
        self._pending = False
        self._quiet = False  # True while the widget sets its own controls
        self._open_when_predicted = self._state_warned = False
        self.editor: ImageEditor | None = None  # the image open
        viewer, keys = self.viewer, bind_keys(self._key_actions(), self.viewer)
        self.native.destroyed.connect(lambda *_: unbind_keys(viewer, keys))

    # ----- model ----------------------------------------------------------------------
    def model_name(self) -> str:
        return "default" if self.model.value in (None, DEFAULT_MODEL) else str(self.model.value)

    def use_model(self, name: str) -> None:
        """Make ``name`` (``default`` or a run folder) the model that pre-places points."""
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
            self.fail(f"{folder}: not a run folder (no config.json)")
            return
        self.use_model(str(folder))

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
            return self.fail("choose a folder of radiographs")
        if not self.save_if_changed():
            return False
        self.cancel_predictions()
        try:
            session = Session.open(folder)
        except ApnError as exc:
            return self.fail(str(exc))
        self._close_image()
        self.session, self._open_when_predicted = session, False
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
        self.use_model(model)
        self._quiet = False
        self.predict_list()
        current = session.state.current
        if current in session.images:
            return self.open_image(current)
        if self.list_worker is not None and self.order.value == BY_UNCERTAINTY:
            self._open_when_predicted = True  # the least certain image, once it is known
            self.status.value += "; the least certain image opens when they are done"
            return True
        return self.open_image(self.rows[0])

    def predict_list(self) -> None:
        """Predict, in a worker thread, the images the current model has not predicted."""
        from napari.qt.threading import thread_worker

        from apn_core.errors import ApnError
        from napari_apn._annotate import model_identity, predict_images

        self.cancel_predictions()  # a running list stops; its finish is ignored
        self.list_worker, self.progress.visible, self.cancel_button.enabled = None, False, False
        session, model = self.session, self.model_name()
        try:
            self.model_id = model_identity(model)
        except ApnError as exc:
            self.model_id = None
            self.refresh()
            self.fail(str(exc))
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
        worker.errored.connect(lambda exc: self.fail(str(exc)))
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
            self.keep_state()
            bad = len(self.session.problems)
            self.status.value = ("cancelled" if cancelled else "predictions done") + (
                f"; {bad} image(s) could not be read (see the list)" if bad else ""
            )
        self.refresh()
        if self._open_when_predicted and self.editor is None and self.rows:
            self.open_image(self.rows[0])

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
    @property
    def image(self) -> str | None:
        """The image open (its path relative to DATA), or ``None``."""
        return self.editor.image if self.editor is not None else None

    def open_image(self, rel: str) -> bool:
        """Open ``rel`` (in a worker thread), saving the current image's changes first."""
        from napari.qt.threading import thread_worker

        from napari_apn._annotate import load_view

        session = self.session
        if session is None or self.open_worker is not None or not self.save_if_changed():
            return False
        self._open_when_predicted = False
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
        self.fail(str(exc))

    def _show(self, view, session: Session, model_id: str | None) -> None:
        from napari.utils.notifications import show_warning

        if view.prediction is not None and model_id is not None:
            session.store(model_id, view.image, view.prediction)
        if session is not self.session:  # another folder was opened meanwhile
            return
        self._close_image()
        self.editor = ImageEditor(self.viewer, view, self._key_actions(), self._changed)
        session.state.current = view.image
        self.keep_state()
        self._quiet = True
        self.reviewed.enabled, self.reviewed.value = True, view.image in session.state.reviewed
        self._quiet = False
        if self.status.value.startswith("opening "):  # the line is the list's again
            self.status.value = "predicting the list…" if self.list_worker is not None else ""
        if view.radiograph.spacing is None:
            show_warning(
                f"Annotate: {view.image} has no pixel spacing: its points are in pixels; "
                "set 'spacing if none' (mm/px) and open it again, or add spacing_mm to "
                "landmarks.csv"
            )
        self.refresh()

    def _close_image(self) -> None:
        if self.editor is not None:
            self.editor.close()
        self.editor = None
        self.reviewed.enabled = False

    def _changed(self) -> None:
        """The open image's points or marks changed: redraw its line now, the list soon."""
        self._show_marks()
        self._schedule()

    def _show_marks(self) -> None:
        editor = self.editor
        if editor is None:
            self.current.value = self.marks.value = ""
            return
        at = self.rows.index(editor.image) + 1 if editor.image in self.rows else 0
        changed = " (changed)" if editor.dirty else ""
        units = "" if editor.spacing else ", pixel units: no spacing"
        where = f" — points from {editor.source}{units}"
        self.current.value = f"{at}/{len(self.rows)}: {editor.image}{changed}{where}"
        self.marks.value = editor.marks()

    # ----- keys -----------------------------------------------------------------------
    def _key_actions(self) -> dict:
        keys = {str(i + 1): (lambda i=i: self.choose(i)) for i in range(len(NAMES))}
        keys |= {"A": self.mark_absent, "N": self.next_image, "P": self.previous_image}
        return keys | {"R": self.mark_reviewed}

    def choose(self, index: int) -> None:
        """Make landmark ``index`` (0–5) the one a click places or moves."""
        if self.editor is not None:
            self.editor.choose(index)

    def mark_absent(self) -> None:
        """The chosen landmark is not in this image (saved as empty x,y)."""
        if self.editor is not None:
            self.editor.mark_absent()

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
        self.keep_state()
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
            self.keep_state()
            self.refresh()

    # ----- saving ---------------------------------------------------------------------
    def save_if_changed(self) -> bool:
        return self.save() if self.editor is not None and self.editor.dirty else True

    def save(self) -> bool:
        """Write the image's rows of landmarks.csv: its points, and empty x,y for the
        landmarks marked absent. A landmark with two points is refused (nothing written)."""
        from apn_core.errors import ApnError

        editor = self.editor
        if editor is None:
            return True
        try:
            path = self.session.save(editor.image, editor.labels())
        except (ApnError, OSError) as exc:
            return self.fail(f"{editor.image} not saved: {exc}")
        self.keep_state()
        editor.dirty = False
        self.status.value = f"saved {editor.image} to {path}"
        self.refresh()
        return True

    def keep_state(self) -> None:
        """Write the folder's state file; a folder that cannot take it (read-only) is said
        once, and work goes on without resuming."""
        from napari.utils.notifications import show_warning

        try:
            self.session.write_state()
        except OSError as exc:
            if not self._state_warned:
                self._state_warned = True
                show_warning(f"Annotate: cannot keep the state file in {self.session.root}: {exc}")

    def fail(self, message: str) -> bool:
        from napari.utils.notifications import show_error

        self.status.value = f"failed: {message}"
        show_error(f"Annotate: {message}")
        return False
