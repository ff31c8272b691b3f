"""Every widget of the manifest constructs through napari's own plugin machinery."""

from __future__ import annotations

import pytest

WIDGETS = ["Detect landmarks", "Batch predict folder", "Train model", "Leg alignment"]


@pytest.mark.parametrize("name", WIDGETS)
def test_widget_docks_from_the_plugin_menu(make_napari_viewer, name):
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget("napari-apn", name)
    assert widget is not None and dock is not None
