"""One point per landmark in a landmarks Points layer, whatever napari's add mode does.

napari gives a new point the *last selected* point's features, so a point added after
selecting ``ankle_left`` becomes a second ``ankle_left`` (and measurements go silently
wrong). :func:`guard` keeps ``feature_defaults`` on the landmark to place next — the one
a widget chose (:func:`choose`), else the first not yet placed — just before each add,
and removes a point added with a label that is already placed, with a notification.

A point flagged for review (Detect: drawn hollow with "⚠") that the user moves is no
longer flagged: its position is now the user's, not the model's doubtful one (Leg
alignment then measures with it).

Layers are built from LayerDataTuples (reader, sample, Detect), which cannot carry event
connections, so :func:`watch` guards every landmarks layer a viewer gets; the reader, the
sample data, :func:`napari_apn.detect` and every widget call it. Widgets get napari's
``PublicOnlyProxy`` of the viewer (and its layers): identities are those of the objects
behind the proxies (:func:`real`), and types are checked with ``isinstance``.
"""

from __future__ import annotations

import logging
import weakref

log = logging.getLogger(__name__)

_VIEWERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_GUARDED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def real(obj):
    """The object behind napari's ``PublicOnlyProxy`` (itself when not a proxy): what
    identities (``is``, ``id``, weak references) must be taken of."""
    return getattr(obj, "__wrapped__", obj)


def is_landmarks_layer(layer) -> bool:
    """A Points layer built by :func:`napari_apn._layers.points_layer_data` (or its proxy)."""
    from napari.layers import Points

    return isinstance(layer, Points) and "apn_landmarks" in (layer.metadata or {})


def placed(layer) -> list[str]:
    return [str(v) for v in layer.features["label"]] if "label" in layer.features else []


def next_label(layer) -> str | None:
    """The label a new point gets: the chosen landmark, else the first not yet placed;
    ``None`` when every landmark has its point."""
    names = layer.metadata.get("apn_landmarks", [])
    done = set(placed(layer))
    chosen = layer.metadata.get("apn_chosen")
    if chosen in names:
        return chosen
    return next((n for n in names if n not in done), None)


def choose(layer, name: str | None) -> None:
    """Make the next added point ``name`` (a widget's landmark picker); ``None`` = the
    first landmark not yet placed."""
    layer.metadata = {**layer.metadata, "apn_chosen": name}
    _set_defaults(layer)


def _set_defaults(layer) -> None:
    label = next_label(layer)
    if label is not None and label != layer.feature_defaults["label"].iloc[0]:
        layer.feature_defaults = {**layer.feature_defaults.iloc[0].to_dict(), "label": label}


def _on_data(layer, event, before: dict) -> None:
    action = getattr(event, "action", None)
    action = str(getattr(action, "value", action))
    if action == "adding":
        _set_defaults(layer)
    elif action == "added":
        _refuse_duplicates(layer, event)
    elif action == "changing":  # positions before a move (a drag, or data set from code)
        before["data"] = layer.data.copy()
    elif action == "changed":
        _unflag_moved(layer, before.pop("data", None))


def _unflag_moved(layer, old) -> None:
    """Clear the review flag of flagged points whose position changed (see the module
    docstring); a point's symbol becomes a disc."""
    if old is None or "review_reason" not in layer.features or len(old) != len(layer.data):
        return
    import numpy as np

    flagged = layer.features["review_reason"].astype(str).to_numpy() != ""
    moved = np.any(np.abs(np.asarray(layer.data) - old) > 1e-9, axis=1)
    done = np.flatnonzero(flagged & moved)
    if len(done) == 0:
        return
    features = layer.features.copy()
    features.loc[done, "review_reason"] = ""
    features.loc[done, "review"] = ""
    symbols = [str(getattr(s, "value", s)) for s in layer.symbol]
    for i in done:
        symbols[i] = "disc"
    layer.features = features
    layer.symbol = symbols


def _refuse_duplicates(layer, event) -> None:
    labels = placed(layer)
    n = len(labels)
    new = sorted({i % n for i in event.data_indices}) if n else []
    before = {labels[i] for i in range(n) if i not in new}
    refused = [i for i in new if labels[i] in before]
    if not refused:
        return
    from napari.utils.notifications import show_warning

    names = sorted({labels[i] for i in refused})
    layer.remove(refused)
    show_warning(
        f"{layer.name}: {', '.join(names)} is already placed — each landmark has one point; "
        "move it, or delete it first to place it again"
    )


def guard(layer) -> None:
    """Keep ``layer``'s added points on landmarks not yet placed (idempotent)."""
    layer = real(layer)
    if _GUARDED.get(id(layer)) is layer:
        return
    _GUARDED[id(layer)] = layer
    ref, before = weakref.ref(layer), {}

    def on_data(event):
        if (target := ref()) is not None:
            _on_data(target, event, before)

    layer.events.data.connect(on_data)
    _set_defaults(layer)


def watch(viewer) -> None:
    """Guard every landmarks layer of ``viewer``, now and when added (idempotent; the
    viewer napari hands a widget is a proxy of the same viewer)."""
    viewer = real(viewer) if viewer is not None else None
    if viewer is None or _VIEWERS.get(id(viewer)) is viewer:
        return
    _VIEWERS[id(viewer)] = viewer
    for layer in viewer.layers:
        if is_landmarks_layer(layer):
            guard(layer)

    def inserted(event):
        if is_landmarks_layer(event.value):
            guard(event.value)

    viewer.layers.events.inserted.connect(inserted)


def watch_current_viewer() -> None:
    """:func:`watch` the active viewer (for readers and sample data, which get none)."""
    from napari import current_viewer

    watch(current_viewer())
