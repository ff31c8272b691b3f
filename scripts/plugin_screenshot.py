"""A real screenshot of the plugin for the README: the sample radiograph, landmarks
detected by the bundled model with heatmaps, and the Detect and Leg alignment widgets.

    xvfb-run -a python scripts/plugin_screenshot.py docs/images/plugin.png
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import napari

log = logging.getLogger("plugin_screenshot")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 950)
    viewer.open_sample("napari-apn", "long_leg")
    viewer.layers["ground truth"].visible = False
    _, det = viewer.window.add_plugin_dock_widget("napari-apn", "Detect landmarks")
    det.run()  # the widget's own worker, as a user's click runs it
    while det.worker is not None:
        QApplication.processEvents()
        time.sleep(0.05)
    _, align = viewer.window.add_plugin_dock_widget("napari-apn", "Leg alignment")
    align.points.reset_choices()
    align.points.value = "synthetic long leg landmarks"
    if "ground truth axes" in viewer.layers:  # drawn while the widget watched the default choice
        viewer.layers.remove("ground truth axes")
    viewer.reset_view()
    canvas = getattr(viewer, "canvas", None)  # napari >= 0.9 moved the overlays to the canvas
    (canvas.overlays if canvas is not None else viewer).scale_bar.visible = True
    for _ in range(5):  # let the dock widgets lay out before the capture
        QApplication.processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.out), canvas_only=False, flash=False)
    logging.basicConfig(level=logging.INFO)
    log.info("wrote %s", args.out)
    viewer.close()


if __name__ == "__main__":
    main()
