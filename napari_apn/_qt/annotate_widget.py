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

Nothing is dropped: changes are saved before another image opens — also changes made
while it loads — and before napari's window closes (an image whose points cannot be
saved, e.g. a landmark with two points, keeps the window open once, with the reason).
Saving goes through the plugin's one save path (:mod:`napari_apn._save`).
"""

from __future__ import annotations

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
from napari_apn._qt._common import StatusLabel, chosen_folder
from napari_apn._qt.annotate_finetune import FinetunePanel
from napari_apn._qt.close_guard import CloseGuard
from napari_apn._qt.model_picker import ModelPicker
from napari_apn._qt.tasks import Job, Task

UNCERTAINTY_HELP = (
    "landmarks the model reports absent + (1 − the lowest confidence of the others): "
    "2.10 = two absent, lowest confidence 0.90; 'least certain first' sorts by this number"
)
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
        self.picker = ModelPicker()
        self.model, self.browse = self.picker.choice, self.picker.browse
        self.fallback = FloatSpinBox(label="spacing if none (mm/px)", min=0, max=5, step=0.001)
        self.fallback.native.setDecimals(4)
        self.order = ComboBox(label="order", choices=[BY_UNCERTAINTY, BY_NAME])
        self.cancel_button = PushButton(text="Cancel predictions", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=1, value=0, visible=False)
        self.status = StatusLabel()
        self.current = StatusLabel()
        self.marks = Label(value="")
        self.reviewed = CheckBox(text="reviewed (R)", value=False, enabled=False)
        self.finetune = FinetunePanel(self)
        buttons = [
            PushButton(text=t) for t in ("◀ Previous (P)", "Next (N) ▶", "Absent (A)", "Save")
        ]
        self.previous_button, self.next_button, self.absent_button, self.save_button = buttons
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["image", "status", "uncertainty"])
        self.table.horizontalHeaderItem(2).setToolTip(UNCERTAINTY_HELP)
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
                self.picker,
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
        self.list_task = Task(
            "Annotate: predicting",
            cancel_button=self.cancel_button,
            bar=self.progress,
            hide_bar=True,
            owner=self,
        )
        self.open_task = Task("Annotate: opening", owner=self)
        self._refresh_timer = QTimer(self.native)  # dies with the widget: never fires after
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(200)
        self._refresh_timer.timeout.connect(self.refresh)
        self._quiet = False  # True while the widget sets its own controls
        self._open_when_predicted = self._state_warned = False
        self.editor: ImageEditor | None = None  # the image open
        viewer, keys = self.viewer, bind_keys(self._key_actions(), self.viewer)
        self.native.destroyed.connect(lambda *_: unbind_keys(viewer, keys))
        self._close_guard = CloseGuard(self)

    @property
    def list_worker(self):
        """The worker predicting the list (``None`` when idle)."""
        return self.list_task.worker

    @property
    def open_worker(self):
        """The worker opening an image (``None`` when idle)."""
        return self.open_task.worker

    # ----- model ----------------------------------------------------------------------
    def model_name(self) -> str:
        return self.picker.model() or "default"

    def use_model(self, name: str) -> None:
        """Make ``name`` (``default`` or a run folder) the model that pre-places points."""
        self.picker.select(name)

    def _browsed(self, *_args) -> None:
        """A folder that is not a run stays in the picker's field: say why at once (a run
        is moved to the menu, whose change predicts again)."""
        if chosen_folder(self.browse) is not None:
            self._model_changed()

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

        self._close_guard.attach()  # docked by now
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
        from apn_core.errors import ApnError
        from napari_apn._annotate import predict_images
        from napari_apn._models import model_identity

        self.list_task.cancel(quiet=True)  # a running list stops; what it still sends is ignored
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
        job, model_id = Job(), self.model_id
        self.list_task.start(
            predict_images,
            items,
            model,
            job.cancelled,
            job=job,
            yielded=lambda result: self._predicted(session, model_id, *result),
            errored=lambda exc: self.fail(str(exc)),
            finished=lambda: self._list_finished(job),
            total=len(items),
        )
        self.status.value = f"predicting {len(items)} image(s)…"

    def cancel_predictions(self) -> None:
        """Stop predicting after the current image (what is done stays cached)."""
        if self.list_task.job is not None:
            self.list_task.job.cancel()
            self.status.value = "cancelling after the current image…"

    def _predicted(self, session: Session, model_id: str, rel: str, result) -> None:
        session.store(model_id, rel, result)
        if session is self.session:
            self._schedule()

    def _list_finished(self, job: Job) -> None:
        cancelled = job.cancelled()
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
        """Refresh the list soon (many changes, one refresh)."""
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def refresh(self, *_args) -> None:
        """Redraw the list (in the chosen order) and the current image's marks."""
        session = self.session
        if session is None:
            return
        self.rows = session.ordered(self.order.value, self.model_id)
        self.table.setRowCount(len(self.rows))
        for row, rel in enumerate(self.rows):
            cached = session.prediction(rel, self.model_id)
            score = f"{cached.uncertainty().value:.2f}" if cached is not None else "–"
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
        """Open ``rel`` (in a worker thread), saving the current image's changes first
        (and again when it has loaded: changes made meanwhile are saved too)."""
        from napari_apn._annotate import load_view

        session = self.session
        if session is None or self.open_worker is not None or not self.save_if_changed():
            return False
        self._open_when_predicted = False
        read = session.read_args(rel, self.fallback.value or None)
        cached = session.prediction(rel, self.model_id)
        model_id = self.model_id
        self.open_task.start(
            load_view,
            rel,
            read,
            session.saved(rel),
            cached,
            self.model_name(),
            returned=lambda view: self._show(view, session, model_id),
            errored=lambda exc: self._open_failed(session, rel, exc),
        )
        self.status.value = f"opening {rel}…"
        return True

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
        if not self.save_if_changed():  # edits made while it loaded: kept, not dropped
            self.status.value += f" — {view.image} was not opened"
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
        self.status.value = f"saved {editor.image} to {path}" if path else "no changes to save"
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
