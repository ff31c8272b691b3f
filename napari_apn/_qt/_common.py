"""Small helpers shared by the widgets."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import FileEdit


def chosen_folder(edit: FileEdit) -> Path | None:
    """The folder in a FileEdit, or ``None`` when none was chosen (an empty FileEdit reads
    as ``.``, the working directory — never used as if the user had picked it)."""
    text = str(edit.value or "").strip()
    return None if text in ("", ".") else Path(text)
