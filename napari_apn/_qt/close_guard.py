"""The Annotate widget's "unsaved points" guard on napari's window (see :class:`CloseGuard`)."""

from __future__ import annotations

import weakref

from qtpy.QtCore import QEvent, QObject, QTimer


class CloseGuard(QObject):
    """Saves the open image's changes (``widget``: the Annotate widget, its ``editor``,
    ``save()`` and ``fail(message)``) before napari's window closes (napari-deeplabcut's
    "unsaved points" guard). When they cannot be saved (a landmark with two points), a
    close by the window's own button is refused once, with the reason (closing again
    closes without them); a close from napari's menu or code has already begun tearing
    the viewer down, so it goes on, and the error says what was not saved."""

    def __init__(self, widget) -> None:
        super().__init__(widget.native)
        self.widget, self._window, self._refused = widget, lambda: None, None
        QTimer.singleShot(0, self.attach)  # the dock's window exists once it is docked

    def attach(self) -> None:
        """Watch the top-level window the widget is docked in (idempotent). The window is
        held weakly: the guard never keeps a closed napari window alive."""
        try:
            window = self.widget.native.window()
        except RuntimeError:  # deleted meanwhile
            return
        if window is None or window is self.widget.native or window is self._window():
            return
        if self._window() is not None:
            self._window().removeEventFilter(self)
        self._window = weakref.ref(window)
        window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() != QEvent.Type.Close or watched is not self._window():
            return False
        if self.closing(may_refuse=event.spontaneous()):
            return False
        event.ignore()  # the window stays open
        return True

    def closing(self, may_refuse: bool = True) -> bool:
        """Save the open image's changes; whether the window may close (saved, nothing to
        save, a refusal insisted on, or ``may_refuse`` False)."""
        widget = self.widget
        editor = widget.editor
        if editor is None or not editor.dirty or self._refused is editor:
            return True
        if widget.save():
            return True
        if not may_refuse:
            widget.fail(f"{editor.image}: closed without saving its changes")
            return True
        self._refused = editor
        widget.fail(
            f"{editor.image} has changes that cannot be saved (see above); fix them and close "
            "again, or close again to discard them"
        )
        return False
