"""A ruler's reading does not depend on a few px of where the search put its box
(apn_core.calibration_object.ruler.measure_ruler, ticks.finest_level).

On an 8-bit JPEG export at 1 mm/px the 5 mm ticks repeat every 5 px; a single column just
past their ends (JPEG ringing, a sharpening halo) holds mostly their 2nd harmonic at 2.5 px,
which reads as a finer tick level (5 mm ticks repeating every 2 cm: 2 mm/px, a film too
long to be a leg's, so no reading at all) — whether the strip took in that column decided
the reading."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from apn_core.calibration_object import estimate_spacing
from apn_core.calibration_object.estimate import _to_image, film_length_px, work_copy
from apn_core.calibration_object.ruler import locate_ruler, measure_ruler
from apn_core.calibration_object.ticks import finest_level


@pytest.fixture(scope="module")
def jpeg_export(tmp_path_factory) -> np.ndarray:
    """The plugin's batch test's first film (synth_3_0000.jpg): a JPEG export at 1 mm/px,
    5 mm ticks repeating every cm beside the left leg."""
    from PIL import Image
    from ruler_exports import jpeg_exports_with_ruler

    from apn_core.synth.generate import write_synthetic_folder

    config = jpeg_exports_with_ruler()
    folder = write_synthetic_folder(tmp_path_factory.mktemp("export"), 1, seed=3, config=config)
    return np.asarray(Image.open(folder / "synth_3_0000.jpg").convert("L"))


def test_a_jpeg_exports_ruler_reads_its_spacing(jpeg_export):
    found = estimate_spacing(jpeg_export, "auto")
    assert found is not None and found.object == "ruler"
    assert found.spacing_mm == pytest.approx(1.0, rel=0.005)


@pytest.mark.parametrize("left", [-4, -2, 0, 2, 4])
@pytest.mark.parametrize("right", [-4, -2, 0, 2, 4])
def test_the_reading_does_not_depend_on_the_boxs_column_edges(jpeg_export, left, right):
    """Before: every box < 32 px wide (bands of one column) read nothing here."""
    work, scale = work_copy(jpeg_export)
    found = locate_ruler(work)  # as estimate_spacing searches, on the reduced copy
    assert found is not None and found.axis == "vertical"
    candidate = _to_image(found, scale, jpeg_export.shape)
    r0, r1, c0, c1 = candidate.box
    shifted = replace(candidate, box=(r0, r1, max(c0 + left, 0), c1 + right))
    reading = measure_ruler(jpeg_export, shifted, film_length_px(work) * scale)
    assert reading is not None, shifted.box
    assert reading.spacing_mm == pytest.approx(1.0, rel=0.005)
    assert reading.tick_mm == 5.0 and reading.base_mm == 10.0


def test_a_weak_band_at_the_ruler_s_edge_makes_no_finer_level():
    """Harmonics 1–4 of a 1 cm unit, per band: the ticks' bands hold the 5 mm level (2nd)
    with its 2nd harmonic (4th); the edge band's ringing holds mostly the 4th but is ~10 %
    of the others — the values of synth_3_0000.jpg's columns 27–36."""
    amplitudes = np.array(
        [
            [7.4, 4.7, 1.1, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0],
            [9.5, 14.0, 21.2, 28.9, 34.0, 31.1, 35.8, 32.8, 16.5, 2.6],
            [5.0, 2.6, 1.0, 0.3, 0.2, 0.0, 0.1, 0.2, 0.1, 0.0],
            [11.9, 17.0, 23.2, 28.8, 31.8, 33.5, 29.7, 22.2, 12.5, 4.7],
        ]
    )
    assert finest_level(amplitudes, 4) == 2
    finer = amplitudes.copy()
    finer[3, -2:] = [40.0, 40.0]  # where the edge bands hold strong 2.5 px ticks, they are a level
    assert finest_level(finer, 4) == 4
