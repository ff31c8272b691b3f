"""Plugin test helpers: mouse gestures on a layer, as napari's own tests simulate them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


# ----- a labelled folder as users bring them (issue 18) -----------------------------------
EXTRA_HEADER = "image,landmark,x,y,spacing_mm,reader,comment"


@pytest.fixture(scope="session")
def _labelled_template(tmp_path_factory):
    from apn_core.synth import SynthConfig, write_synthetic_folder

    config = SynthConfig(
        spacing_mm=2.0,
        formats=("dicom",),
        restricted_fraction=0.0,
        hip_prosthesis_fraction=0.0,
        knee_prosthesis_fraction=0.0,
        shield_fraction=0.0,
    )
    return write_synthetic_folder(tmp_path_factory.mktemp("labelled") / "data", 3, 5, config)


@dataclass
class LabelledFolder:
    """A labelled folder made by :func:`labelled_folder` and the checks on its table."""

    path: Path
    images: list[str]
    original: bytes  # landmarks.csv before any save

    @property
    def table(self) -> bytes:
        return (self.path / "landmarks.csv").read_bytes()

    @staticmethod
    def records(data: bytes) -> list[bytes]:
        """The raw records (BOM and terminators kept: byte comparisons)."""
        return data.splitlines(keepends=True)

    def rows_of(self, image: str, data: bytes | None = None) -> list[bytes]:
        data = self.table if data is None else data
        start = image.encode() + b","
        return [r for r in self.records(data) if r.lstrip(b"\xef\xbb\xbf").startswith(start)]

    def assert_other_rows_kept(self, image: str) -> None:
        """Every record that is not ``image``'s is byte-for-byte as it was, in its order;
        the header, BOM and CRLF line endings are kept."""
        after = self.table
        mine_before, mine_after = self.rows_of(image, self.original), self.rows_of(image, after)
        assert [r for r in self.records(after) if r not in mine_after] == [
            r for r in self.records(self.original) if r not in mine_before
        ]
        assert after.startswith(b"\xef\xbb\xbf" + EXTRA_HEADER.encode() + b"\r\n")
        assert all(r.endswith(b"\r\n") for r in self.records(after))


@pytest.fixture
def labelled_folder(_labelled_template, tmp_path) -> LabelledFolder:
    """A labelled folder as users bring one: three DICOMs and a hand-made ``landmarks.csv``
    with CRLF line endings, a UTF-8 BOM, extra columns (``reader``, ``comment`` — quoted,
    with commas), a landmark outside the default set (``patella_right``), an absent mark
    (empty x,y) and numbers as a spreadsheet writes them."""
    import shutil

    from apn_core.annotations import read_landmarks_csv
    from apn_core.landmarks import DEFAULT_LANDMARKS

    folder = shutil.copytree(_labelled_template, tmp_path / "data")
    truth = read_landmarks_csv(folder / "landmarks.csv", DEFAULT_LANDMARKS)
    images = sorted(truth)
    lines = [EXTRA_HEADER]
    for n, image in enumerate(images):
        for name, (x, y) in zip(DEFAULT_LANDMARKS.names, truth[image].xy, strict=True):
            if n == 1 and name == "ankle_left":
                lines.append(f'{image},{name},,,2,B,"absent, cut off"')
                continue
            comment = f'"checked, {name}"' if n != 2 else ""
            lines.append(f"{image},{name}, {x:.4f} ,{y:.2f},2,A,{comment}")
        lines.append(f"{image},patella_right,70.5,300.25,2,A,not ours")
    data = b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n"
    (folder / "landmarks.csv").write_bytes(data)
    return LabelledFolder(folder, images, data)
