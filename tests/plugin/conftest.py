"""Plugin test helpers: mouse gestures on a layer, as napari's own tests simulate them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest


@dataclass
class _Event:
    type: str
    position: tuple = (0.0, 0.0)  # world coordinates
    pos: np.ndarray = field(default_factory=lambda: np.zeros(2))  # canvas pixels
    is_dragging: bool = False
    modifiers: list = field(default_factory=list)
    view_direction: list | None = None
    up_direction: list | None = None
    dims_displayed: list = field(default_factory=lambda: [0, 1])
    handled: bool = False


class Mouse:
    """Press, move and release on a layer through napari's mouse-callback machinery."""

    def __init__(self, layer) -> None:
        self.layer = layer

    def _event(self, kind: str, world, pos, dragging: bool = False):
        from napari.utils._proxies import ReadOnlyWrapper

        event = _Event(kind, tuple(world), np.asarray(pos, float), dragging)
        return ReadOnlyWrapper(event, exceptions=("handled",))

    def press(self, world, pos=(0, 0)) -> None:
        from napari.utils.interactions import mouse_press_callbacks

        mouse_press_callbacks(self.layer, self._event("mouse_press", world, pos))

    def move(self, world, pos=(20, 20)) -> None:
        from napari.utils.interactions import mouse_move_callbacks

        mouse_move_callbacks(self.layer, self._event("mouse_move", world, pos, dragging=True))

    def release(self, world, pos=(0, 0)) -> None:
        from napari.utils.interactions import mouse_release_callbacks

        mouse_release_callbacks(self.layer, self._event("mouse_release", world, pos))

    def click(self, world) -> None:
        self.press(world)
        self.release(world)


@pytest.fixture
def mouse():
    """``mouse(layer)`` → a :class:`Mouse` for that layer."""
    return Mouse


@pytest.fixture
def notifications():
    """Messages napari notified during the test (``show_warning``/``show_error``)."""
    from napari.utils.notifications import notification_manager

    start = len(notification_manager.records)
    return lambda: [str(n.message) for n in notification_manager.records[start:]]
