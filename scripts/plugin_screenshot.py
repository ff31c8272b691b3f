"""Real screenshots of the plugin for the README: the sample radiograph, landmarks
detected by the bundled model with heatmaps, and the Detect and Leg alignment widgets;
with ``--annotate``, also the Annotate widget on a folder of synthetic radiographs (the
list ordered by the model's uncertainty, two images reviewed, a landmark marked absent).

    xvfb-run -a python scripts/plugin_screenshot.py docs/images/plugin.png \
        --annotate docs/images/annotate.png
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import napari

log = logging.getLogger("plugin_screenshot")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--annotate", type=Path, help="also the Annotate widget, to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    plugin_screenshot(args.out)
    if args.annotate:
        annotate_screenshot(args.annotate)


def _wait(done) -> None:
    from qtpy.QtWidgets import QApplication

    while not done():
        QApplication.processEvents()
        time.sleep(0.05)
    for _ in range(5):  # let the dock widgets lay out before the capture
        QApplication.processEvents()


def plugin_screenshot(out: Path) -> None:
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
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False, flash=False)
    log.info("wrote %s", out)
    viewer.close()


def annotate_screenshot(out: Path) -> None:
    """The Annotate widget as a user drives it: open a folder, review, mark absent."""
    from apn_core.synth import SynthConfig, write_synthetic_folder

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_synthetic_folder(
            Path(tmp) / "my-radiographs", 8, seed=12, config=SynthConfig(spacing_mm=1.0)
        )
        (data / "landmarks.csv").unlink()  # just images: the model pre-places the points
        _, widget = viewer.window.add_plugin_dock_widget("napari-apn", "Annotate")
        widget.folder.value = data
        widget.open_folder()
        idle = lambda: widget.open_worker is None and widget.list_worker is None  # noqa: E731
        _wait(idle)
        keys = viewer.window._qt_viewer._key_map_handler  # as the canvas delivers key presses
        for key in ("R", "N", "R", "N", "6", "A", "R", "N", "3"):
            keys.press_key(key)
            keys.release_key(key)
            _wait(idle)
        viewer.reset_view()
        canvas = getattr(viewer, "canvas", None)
        (canvas.overlays if canvas is not None else viewer).scale_bar.visible = True
        _wait(idle)
        out.parent.mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(out), canvas_only=False, flash=False)
    log.info("wrote %s", out)
    viewer.close()


if __name__ == "__main__":
    main()
