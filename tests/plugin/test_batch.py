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
