"""Batch predict widget over a folder with a corrupt file."""

from __future__ import annotations

from apn_core.synth import SynthConfig, write_synthetic_folder


def test_batch_widget_handles_a_corrupt_file_and_opens_a_result(
    make_napari_viewer, qtbot, tmp_path
):
    from napari_apn._qt.batch_widget import BatchWidget

    data = write_synthetic_folder(tmp_path / "in", 3, seed=12, config=SynthConfig(spacing_mm=1.0))
    (data / "corrupt.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x01" * 50)
    viewer = make_napari_viewer()
    widget = BatchWidget(viewer)
    widget.input.value, widget.output.value = data, tmp_path / "out"
    widget.overlays.value = False
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120000)
    assert widget.status.value == "done"
    assert widget.summary.value.startswith("3 predicted, 0 already done, 1 failed")
    assert "corrupt.dcm" in widget.summary.value
    assert widget.progress.value == widget.progress.max == 4
    assert (tmp_path / "out" / "landmarks.csv").exists()
    widget.open_result()
    assert any(layer.name.endswith("landmarks") for layer in viewer.layers)
