"""The image open in the Annotate widget: its two napari layers and what the user marks.

One landmarks Points layer (the shared builder, :func:`napari_apn._layers.points_layer_data`:
colour by ``label``, metadata naming the image relative to DATA) above the radiograph in
its spacing. Each landmark is a point, absent (marked "not in this image"; no point) or
neither (not annotated). The chosen landmark (keys 1–6, or selecting its point) is what a
click in add mode places: :mod:`napari_apn._points` gives the new point that label, and
:meth:`ImageEditor._on_data` — connected *before* that guard — removes the landmark's old
point, so the click moves it instead of being refused as a duplicate.

Keys are bound on both layers: a layer's own keys come before napari's layer-type keys
(Points' 1–5, A, P), which the annotation keys replace while these layers are active.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels
from apn_core.landmarks import DEFAULT_LANDMARKS

NAMES = DEFAULT_LANDMARKS.names


def bind_keys(actions: dict[str, Callable[[], object]], *providers) -> dict:
    """Bind ``{key: action}`` on napari keymap providers (viewer, layers), replacing what
    they had; returns ``{key: function bound}`` (to unbind exactly these later)."""

    def bound(action):
        def on_key(_provider) -> None:
            action()

        return on_key

    functions = {key: bound(action) for key, action in actions.items()}
    for provider in providers:
        for key, function in functions.items():
            provider.bind_key(key, function, overwrite=True)
    return functions


def unbind_keys(provider, functions: dict) -> None:
    """Undo :func:`bind_keys` on ``provider``, keeping keys bound since by others."""
    for key, function in functions.items():
        current = provider.bind_key(key, None)
        if current is not None and current is not function:
            provider.bind_key(key, current, overwrite=True)


class ImageEditor:
    """The layers of one opened image (an :class:`napari_apn._annotate.ImageView`)."""

    def __init__(self, viewer, view, keys: dict, changed: Callable[[], None]) -> None:
        from napari.layers import Layer

        from napari_apn._layers import ImageRef, image_layer_data, points_layer_data

        radiograph = view.radiograph
        name = Path(view.image).name
        image = image_layer_data(radiograph, name=name, image=view.image)
        ref = ImageRef(view.image, str(radiograph.path.resolve()), radiograph.spacing)
        data, kwargs, kind = points_layer_data(
            view.labels, f"{name} landmarks", ref, confidence=view.confidence, source=view.source
        )
        kwargs["metadata"]["apn_absent"] = list(view.absent)
        self.viewer, self.image, self.spacing = viewer, view.image, radiograph.spacing
        self.source = view.source  # where the points came from: landmarks.csv or the model
        self.image_layer = viewer.add_layer(Layer.create(*image))
        self.points = viewer.add_layer(Layer.create(data, kwargs, kind))
        self.absent, self.dirty, self.changed = set(view.absent), False, changed
        bind_keys(keys, self.points, self.image_layer)
        self.points.events.data.connect(self._on_data, position="first")  # before the guard
        self.points.events.features.connect(self._on_features)
        self.points.selected_data.events.active.connect(self._on_selected)
        todo = [i for i, n in enumerate(NAMES) if n not in self.placed() | self.absent]
        self.chosen = NAMES[0]
        self.choose(todo[0] if todo else 0)
        self.points.mode = "add"
        viewer.layers.selection.active = self.points

    def close(self) -> None:
        for layer in (self.points, self.image_layer):
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    def placed(self) -> set[str]:
        from napari_apn._points import placed

        return set(placed(self.points))

    def choose(self, index: int) -> None:
        """Make landmark ``index`` (0–5) the one a click places or moves."""
        from napari_apn._points import choose

        self.chosen = NAMES[index]
        choose(self.points, self.chosen)
        self.changed()

    def mark_absent(self) -> None:
        """The chosen landmark is not in this image: its point goes; saved as absent."""
        from napari_apn._points import placed

        mine = [i for i, n in enumerate(placed(self.points)) if n == self.chosen]
        if mine:
            self.points.remove(mine)
        self.absent.add(self.chosen)
        self.dirty = True
        self.changed()

    def labels(self) -> ImageLabels:
        """What to save: the points, absent landmarks as annotated without a position, the
        spacing; :class:`FileProblem` when a landmark has two points (relabelled)."""
        from napari_apn._layers import labels_from_points
        from napari_apn._points import placed

        labels = labels_from_points(
            self.points.data, placed(self.points), self.image, self.points.name
        )
        for name in self.absent:
            i = NAMES.index(name)
            labels.xy[i], labels.annotated[i] = np.nan, True
        labels.spacing = self.spacing
        return labels

    def marks(self) -> str:
        """Each landmark's key, name and state (✓ point, absent, – neither); ▶ = chosen."""
        placed = self.placed()
        parts = []
        for i, name in enumerate(NAMES):
            state = "✓" if name in placed else "absent" if name in self.absent else "–"
            parts.append(f"{'▶' if name == self.chosen else ' '}{i + 1} {name} {state}")
        return "\n".join("   ".join(parts[i : i + 2]) for i in range(0, len(parts), 2))

    def _on_data(self, event) -> None:
        from napari_apn._points import placed

        action = str(getattr(event.action, "value", event.action))
        if action == "added":
            labels = placed(self.points)
            new = {i % len(labels) for i in event.data_indices}
            for i in new:
                older = [j for j, n in enumerate(labels) if n == labels[i] and j not in new]
                if labels[i] == self.chosen and older:
                    self.points.remove(older)  # a move: the new point replaces the old one
                self.absent.discard(labels[i])
        if action in ("added", "removed", "changed"):
            self.dirty = True
            self.changed()

    def _on_features(self, _event=None) -> None:
        self.dirty = True
        self.changed()

    def _on_selected(self, index: int | None) -> None:
        """Selecting one point chooses its landmark (what ``A`` then marks)."""
        from napari_apn._points import placed

        labels = placed(self.points)
        name = labels[index] if index is not None and 0 <= index < len(labels) else None
        if name in NAMES and name != self.chosen:
            self.choose(NAMES.index(name))
