"""Small helpers shared by the widgets: folder fields and the status line."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import FileEdit, Label


def chosen_folder(edit: FileEdit) -> Path | None:
    """The folder in a FileEdit, or ``None`` when none was chosen (an empty FileEdit reads
    as ``.``, the working directory — never used as if the user had picked it)."""
    text = str(edit.value or "").strip()
    return None if text in ("", ".") else Path(text)


class StatusLabel(Label):
    """A status line that never widens its dock: it wraps at spaces, is clipped where a
    word is longer than the dock (a path), shows at most :attr:`MAX_CHARS` characters, and
    holds the whole text in its tooltip. ``value`` is the whole text."""

    MAX_CHARS = 400

    def __init__(self, value: str = "", **kwargs) -> None:
        from qtpy.QtCore import Qt
        from qtpy.QtWidgets import QSizePolicy

        super().__init__(value="", **kwargs)
        label = self.native
        label.setWordWrap(True)
        # Ignored: the label's text never decides the dock's width (a long path did)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._text = ""
        self.value = value

    @property
    def value(self) -> str:
        return self._text

    @value.setter
    def value(self, text) -> None:
        self._text = "" if text is None else str(text)
        shown = self._text
        if len(shown) > self.MAX_CHARS:
            shown = shown[: self.MAX_CHARS - 1].rstrip() + "…"
        self.native.setText(shown)
        self.native.setToolTip(self._text)
