"""Calibrating an image's spacing in napari: from the ruler on the film (also what Detect
does for an image without one), or from a line drawn over a known length; the spacing in
use is shown beside the measurements."""

from __future__ import annotations

import numpy as np
import pytest

from napari_apn._calibration import (
    calibrate_from_line,
    calibrate_from_object,
    calibration_text,
    spacing_from_line,
)
from tests.core.test_calibration_object import SPACING, expose, film, with_ruler

MAGNIFICATION = 1.1


def test_spacing_from_a_line_over_a_known_length():
    assert spacing_from_line(np.array([[0.0, 0.0], [30.0, 40.0]]), 25.0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="px long"):
        spacing_from_line(np.array([[0.0, 0.0], [1.0, 1.0]]), 25.0)
    with pytest.raises(ValueError, match="positive"):
        spacing_from_line(np.array([[0.0, 0.0], [30.0, 40.0]]), -1.0)


def image_with_points(viewer, data):
    image = viewer.add_image(data, name="film")
    points = viewer.add_points(
        np.array([[100.0, 50.0], [900.0, 60.0]]),
        name="film landmarks",
        features={"label": ["femur_right", "knee_right"]},
        metadata={"apn_image": "film"},
    )
    return image, points


def test_ruler_calibrates_the_image_and_its_landmarks(make_napari_viewer):
    viewer = make_napari_viewer()
    image, points = image_with_points(viewer, with_ruler("numbered", MAGNIFICATION))
    found = calibrate_from_object(viewer, image)
    assert found.spacing_mm == pytest.approx(SPACING / MAGNIFICATION, rel=0.005)
    for layer in (image, points):
        assert tuple(layer.scale) == pytest.approx((found.spacing_mm,) * 2)
        assert tuple(str(u) for u in layer.units) == ("millimeter", "millimeter")
    assert "ruler on the film" in calibration_text(viewer, points)


def test_no_object_says_so_and_leaves_the_layer_in_pixels(make_napari_viewer):
    viewer = make_napari_viewer()
    mu, _ = film()
    image = viewer.add_image(expose(mu), name="film")
    with pytest.raises(ValueError, match="no calibration object found"):
        calibrate_from_object(viewer, image)
    assert tuple(str(u) for u in image.units) == ("pixel", "pixel")
    assert calibration_text(viewer, image).startswith("no pixel spacing")


def test_a_line_over_a_known_length_calibrates(make_napari_viewer):
    viewer = make_napari_viewer()
    image, points = image_with_points(viewer, np.zeros((400, 300), np.uint16))
    line = viewer.add_shapes([np.array([[10.0, 10.0], [10.0, 210.0]])], shape_type="line")
    spacing = calibrate_from_line(viewer, image, line, 50.0)
    assert spacing == pytest.approx(0.25)
    assert tuple(points.scale) == pytest.approx((0.25, 0.25))
    assert "manual: a line over 50 mm (200.0 px)" in calibration_text(viewer, points)
    assert np.allclose(line.data[0], [[10.0, 10.0], [10.0, 210.0]])  # still on the object


def test_widget_draws_a_line_layer_and_reports_mistakes(make_napari_viewer):
    from napari_apn._calibration import LINE_LAYER
    from napari_apn._qt.calibration_widget import CalibrationWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((400, 300), np.uint16), name="film")
    widget = CalibrationWidget(viewer)
    widget.image.value = "film"
    widget.set_from_line()
    assert "draw a line first" in widget.status.value
    widget.draw()
    assert viewer.layers[LINE_LAYER].mode == "add_line"
    widget.set_from_line()
    assert "holds no line" in widget.status.value
    viewer.layers[LINE_LAYER].add_lines(np.array([[0.0, 0.0], [0.0, 100.0]]))
    widget.length.value = 20.0
    widget.set_from_line()
    assert widget.status.value.startswith("0.2 mm/px — manual")


def test_alignment_shows_the_spacing_in_use(make_napari_viewer):
    from napari_apn._qt.alignment_widget import AlignmentWidget

    viewer = make_napari_viewer()
    image, points = image_with_points(viewer, with_ruler("5mm", MAGNIFICATION))
    widget = AlignmentWidget(viewer)
    widget.points.value = points.name
    widget.update()
    assert widget.calibration.value.startswith("no pixel spacing")
    calibrate_from_object(viewer, image)
    widget.update()
    assert "mm/px — ruler on the film" in widget.calibration.value


def test_detect_measures_an_export_without_spacing_by_its_ruler(
    make_napari_viewer, qtbot, tmp_path
):
    """A synthetic JPEG export (no spacing) opened as a plain array: Detect finds the ruler,
    calibrates the image and puts the landmarks in mm."""
    from PIL import Image

    from apn_core.synth.config import SynthConfig
    from apn_core.synth.generate import write_synthetic_folder
    from napari_apn._qt.detect_widget import DetectWidget

    config = SynthConfig(
        spacing_mm=SPACING,
        families=("dr-clinic",),
        restricted_fraction=0.0,
        overrides={
            "storage.formats": "jpeg",
            "storage.bits": "8",
            "accessories.ruler": 1.0,
            "accessories.ruler_places": "right",
            "accessories.ruler_styles": "numbered",
            "accessories.magnification": str(MAGNIFICATION),
        },
    )
    write_synthetic_folder(tmp_path, 1, seed=7, config=config)
    pixels = np.asarray(Image.open(next(tmp_path.glob("*.jpg"))))
    viewer = make_napari_viewer()
    viewer.add_image(pixels, name="export")
    widget = DetectWidget(viewer, warm_up=False)
    widget.image.value = "export"
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    points = viewer.layers["export landmarks"]
    spacing = SPACING / MAGNIFICATION
    assert points.metadata["apn_spacing_mm"] == pytest.approx([spacing] * 2, rel=0.01)
    assert tuple(viewer.layers["export"].scale) == pytest.approx(tuple(points.scale))
    assert "ruler on the film" in calibration_text(viewer, points)


def _batch(viewer, qtbot, folder, out):
    from napari_apn._qt.batch_widget import BatchWidget

    widget = BatchWidget(viewer)
    widget.input.value, widget.output.value = folder, out
    widget.overlays.value = False
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120000)
    return widget


def _spacing_sources(out) -> set[str]:
    import csv

    with open(out / "landmarks.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["x_mm"] for r in rows if r["present"] == "1")
    return {r["spacing_source"] for r in rows}


def test_batch_measures_jpeg_exports_by_their_ruler(make_napari_viewer, qtbot, tmp_path):
    """Batch runs apn predict's job: a folder of JPEG exports with rulers, no option typed."""
    from ruler_exports import jpeg_exports_with_ruler

    from apn_core.synth.generate import write_synthetic_folder

    config = jpeg_exports_with_ruler()
    folder = write_synthetic_folder(tmp_path / "in", 2, seed=3, config=config)
    (folder / "landmarks.csv").unlink()  # exports arrive without their spacing
    widget = _batch(make_napari_viewer(), qtbot, folder, tmp_path / "out")
    assert widget.summary.value.startswith("2 predicted, 0 already done, 0 failed")
    assert "from the ruler on the film" in widget.summary.value
    assert _spacing_sources(tmp_path / "out") == {"ruler"}


def test_batch_measures_real_oai_films_by_their_ruler(
    make_napari_viewer, qtbot, tmp_path, shared_dir
):
    import shutil

    films = sorted((shared_dir / "realdata" / "oai-12m" / "test").glob("*.jpg"))[1:3]
    if not films:
        pytest.skip("no OAI films in ../shared/realdata/oai-12m/test")
    folder = tmp_path / "in"  # a copy in the test's own folder, deleted with it
    folder.mkdir()
    for path in films:
        shutil.copy(path, folder)
    widget = _batch(make_napari_viewer(), qtbot, folder, tmp_path / "out")
    assert widget.summary.value.startswith("2 predicted")
    assert _spacing_sources(tmp_path / "out") == {"ruler"}


def test_detect_measures_a_real_oai_film_by_its_ruler(make_napari_viewer, qtbot, shared_dir):
    from PIL import Image

    from napari_apn._qt.detect_widget import DetectWidget

    film = shared_dir / "realdata" / "oai-12m" / "test" / "00764804_1x1.jpg"
    if not film.is_file():
        pytest.skip(f"{film} is absent")
    viewer = make_napari_viewer()
    viewer.add_image(np.asarray(Image.open(film).convert("L")), name="oai")
    widget = DetectWidget(viewer, warm_up=False)
    widget.image.value = "oai"
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    spacing = viewer.layers["oai landmarks"].metadata["apn_spacing_mm"]
    assert spacing[0] == pytest.approx(1.32, rel=0.03)  # PROVENANCE.md: ≈ 1.32 mm/px ± 3 %
