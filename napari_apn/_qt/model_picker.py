"""The model picker every widget shares: the bundled model, the runs of this session and
under ``./runs`` (:mod:`napari_apn._runs`), or a run folder chosen on disk.

A run folder chosen with *or run folder* is checked at once: a run is remembered and
selected in the menu; a folder that is not a run stays in the field and is what
:meth:`ModelPicker.model` returns, so running with it fails with the model store's own
reason ("… not a run folder") instead of silently using another model.

For training (``scratch=True``) the menu starts with *none (train from scratch)*; with
:meth:`ModelPicker.require_model` (the ``finetune`` preset) that choice is withdrawn and
the bundled model is chosen, so fine-tuning never trains from scratch by accident.
"""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import ComboBox, Container, FileEdit

from napari_apn._qt._common import chosen_folder
from napari_apn._runs import recent_runs, remember

DEFAULT_MODEL = "default (bundled)"
SCRATCH = "none (train from scratch)"


def model_key(choice) -> str | None:
    """``"default"``, a run folder, or ``None`` (from scratch) for a menu entry."""
    if choice in (None, DEFAULT_MODEL):
        return "default"
    return None if choice == SCRATCH else str(choice)


class ModelPicker(Container):
    """``label`` menu + *or run folder* field (see the module docstring). ``changed`` of
    :attr:`choice` fires when the model changes (a run chosen on disk included)."""

    def __init__(self, label: str = "model", scratch: bool = False) -> None:
        super().__init__(labels=True)
        self.margins = (0, 0, 0, 0)
        self._scratch = scratch
        self.choice = ComboBox(label=label, choices=self._choices)
        self.browse = FileEdit(label="or run folder", mode="d", value="")
        self.extend([self.choice, self.browse])
        self.browse.changed.connect(self._browsed)

    def _choices(self, _widget=None) -> list[str]:
        return [*([SCRATCH] if self._scratch else []), DEFAULT_MODEL, *recent_runs()]

    def model(self) -> str | None:
        """The model to run: ``"default"``, a run folder, or ``None`` (from scratch)."""
        browsed = chosen_folder(self.browse)
        if browsed is not None:  # a folder that is not a run (a run was moved to the menu)
            return str(browsed)
        return model_key(self.choice.value)

    def select(self, model: str | None) -> None:
        """Show ``model`` (``"default"``, a run folder, ``None`` = from scratch) as chosen."""
        if model not in (None, "default"):
            remember(model)
            model = str(Path(model).resolve())
        self.choice.reset_choices()
        self.choice.value = (
            DEFAULT_MODEL if model == "default" else SCRATCH if model is None else model
        )
        if chosen_folder(self.browse) is not None:  # (FileEdit.value = "" is the working folder)
            self.browse.line_edit.value = ""

    def require_model(self, required: bool) -> None:
        """Offer *none (train from scratch)* or not; when withdrawn while chosen, the
        bundled model is chosen instead."""
        if self._scratch == (not required):
            return
        was = self.choice.value
        self._scratch = not required
        self.choice.reset_choices()
        self.choice.value = DEFAULT_MODEL if was == SCRATCH or was is None else was

    def _browsed(self, *_args) -> None:
        from apn_core.runs import is_run

        folder = chosen_folder(self.browse)
        if folder is None or not is_run(folder):
            return  # left in the field: model() returns it, and running it says why
        self.select(str(folder))
