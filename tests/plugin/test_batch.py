"""Batch predict widget over a folder with a corrupt file."""

from __future__ import annotations

import numpy as np

from apn_core.synth import SynthConfig, write_synthetic_folder


def test_batch_widget_handles_a_corrupt_file_and_opens_one_result(
    make_napari_viewer, qtbot, tmp_path
):
    from napari.layers import Points

    from napari_apn._layers import layer_spacing_mm
    from napari_apn._qt.batch_widget import BatchWidget

    data = write_synthetic_folder(tmp_path / "in", 3, seed=12, config=SynthConfig(spacing_mm=1.5))
    (data / "corrupt.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x01" * 50)
    viewer = make_napari_viewer()
    widget = BatchWidget(viewer)
    widget.input.value, widget.output.value = data, tmp_path / "out"
    widget.overlays.value = False
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120000)
    assert widget.status.value == "done"
    assert widget.summary.value.startswith("3 predicted, 0 already done, 1 failed")
    failed = [ln for ln in widget.summary.value.splitlines() if ln.startswith("failed: ")]
    assert (
        len(failed) == 1 and failed[0].startswith("failed: corrupt.dcm: ") and len(failed[0]) > 30
    )
    assert widget.progress.value == widget.progress.max == 4
    assert (tmp_path / "out" / "landmarks.csv").exists()

    image, points = widget.open_result()
    # one image with its own points only, in the image's spacing (not mm at scale 1)
    assert [ly.name for ly in viewer.layers if isinstance(ly, Points)] == [points.name]
    flagged = [name for name, _ in widget.result.needs_review]
    assert points.metadata["apn_image"] == (flagged or widget.result.done)[0]  # review first
    assert layer_spacing_mm(points) == layer_spacing_mm(image) == (1.5, 1.5)
    assert image.data.shape[0] > points.data[:, 0].max() > 0  # pixels of this image
    # what Detect shows: confidence and review reasons (hollow points say why)
    assert {"label", "confidence", "review"} <= set(points.features.columns)
    assert (points.features["confidence"] > 0).all()
    from apn_core.inference.outputs import read_record

    rows = read_record(widget.result.out, points.metadata["apn_image"])["rows"]
    expected = [bool(r["needs_review"]) for r in rows if r["present"]]
    assert [bool(r) for r in points.features["review"]] == expected


def test_batch_without_folders_asks_for_them(make_napari_viewer, notifications):
    from napari_apn._qt.batch_widget import BatchWidget

    widget = BatchWidget(make_napari_viewer())
    widget.run()  # an empty field reads as "." — never the working directory
    assert widget.worker is None
    assert any("choose an input folder" in m for m in notifications())
    np.testing.assert_equal(widget.open_result(), [])


def test_a_png_folder_predicts_with_the_spacing_field(make_napari_viewer, qtbot, tmp_path):
    """PNG/JPEG folders failed with "pass --spacing MM", a CLI flag the widget lacked."""
    from PIL import Image

    from apn_core.io import read_radiograph
    from napari_apn._batch import NO_SPACING_HINT
    from napari_apn._qt.batch_widget import BatchWidget

    config = SynthConfig(spacing_mm=2.0, formats=("dicom",))
    data = write_synthetic_folder(tmp_path / "in", 1, seed=13, config=config)
    pixels = read_radiograph(next(data.glob("*.dcm"))).pixels
    png = tmp_path / "png"
    png.mkdir()
    scaled = (pixels - pixels.min()) / (pixels.max() - pixels.min()) * 65535
    Image.fromarray(scaled.astype(np.uint16)).save(png / "leg.png")
    _, widget = make_napari_viewer().window.add_plugin_dock_widget(
        "napari-apn", "Batch predict folder"
    )
    assert isinstance(widget, BatchWidget) and widget.spacing.value == 0
    widget.input.value, widget.output.value = png, tmp_path / "out"
    widget.overlays.value = False
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120000)
    assert widget.summary.value.startswith("0 predicted, 0 already done, 1 failed")
    assert NO_SPACING_HINT in widget.summary.value.splitlines()

    widget.spacing.value = 2.0
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120000)
    assert widget.summary.value.startswith("1 predicted"), widget.summary.value
    rows = (tmp_path / "out" / "landmarks.csv").read_text().splitlines()
    assert len(rows) == 7 and rows[1].startswith("leg.png,")
