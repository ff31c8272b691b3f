"""napari export of a DICOM SR (issue 22): File > Save of a landmarks layer as
``*.sr.dcm`` writes the SR and a presentation state beside it, from the points as they
are in the layer (a moved point, a deleted one), referencing the opened DICOM file."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("highdicom", reason="the [dicom] extra (highdicom) is not installed")

from apn_core.errors import FileProblem
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.measurements import alignment
from apn_core.synth import SynthConfig, write_synthetic_folder
from napari_apn import detect
from tests.core.test_dicom_sr import all_text, float32_close, leg_values, sr_landmarks, unknown


def test_saving_a_layer_as_sr_writes_its_points_as_they_are(make_napari_viewer, tmp_path):
    import highdicom as hd
    import pydicom

    config = SynthConfig(spacing_mm=1.0, formats=("dicom",), restricted_fraction=0.0)
    data = write_synthetic_folder(tmp_path / "data", 1, seed=4, config=config)
    source = next(data.glob("*.dcm"))
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(source), plugin="napari-apn")
    points = detect(viewer, image)
    labels = list(points.features["label"])
    moved = points.data.copy()
    moved[labels.index("knee_right")] += (4.0, -3.0)  # (row, col) pixels
    points.data = moved
    points.selected_data = {labels.index("ankle_left")}
    points.remove_selected()  # a landmark deleted by hand is absent in the SR
    target = tmp_path / "out" / "leg.sr.dcm"
    target.parent.mkdir()
    written = points.save(str(target), plugin="napari-apn")
    assert sorted(written) == sorted([str(target), str(tmp_path / "out" / "leg.pr.dcm")])

    sr = hd.sr.srread(target)
    got = sr_landmarks(sr)
    rows = dict(zip(points.features["label"], points.data, strict=True))
    for name in DEFAULT_LANDMARKS.names:
        if name in rows:
            row, col = rows[name]
            assert got[name]["presence"] == "Present"
            assert float32_close(got[name]["xy"], [col, row])
        else:
            assert got[name]["presence"] == "Absent" and got[name]["xy"] is None
    assert float32_close(got["knee_right"]["xy"], moved[labels.index("knee_right"), ::-1])
    header = pydicom.dcmread(source, stop_before_pixels=True)
    assert sr.StudyInstanceUID == header.StudyInstanceUID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == header.SOPInstanceUID
    # measurements from the layer's points (mm from its scale); the left leg lost its ankle
    xy = np.full((6, 2), np.nan)
    for name, (row, col) in rows.items():
        xy[DEFAULT_LANDMARKS.index(name)] = (col, row)
    expected = alignment(xy, tuple(points.scale))
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    if not any(
        got[n]["review"] == "Needs review" for n in ("femur_right", "knee_right", "ankle_right")
    ):
        assert leg_values(groups["right leg"])["HKA"][0] == pytest.approx(
            expected["right"]["hka_deg"]
        )
    assert "HKA" in unknown(groups["left leg"]) and "LLD" in unknown(
        groups["leg-length discrepancy"]
    )
    assert "landmarks edited in napari" in all_text(pydicom.dcmread(target))


def test_a_layer_of_a_tiff_cannot_be_saved_as_sr(make_napari_viewer, tmp_path):
    config = SynthConfig(spacing_mm=2.0, formats=("tiff",), restricted_fraction=0.0)
    data = write_synthetic_folder(tmp_path / "data", 1, seed=4, config=config)
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(next(data.glob("*.tif"))), plugin="napari-apn")
    points = detect(viewer, image)
    from napari_apn._sr_export import write_sr

    layer_data, meta, _ = points.as_layer_data_tuple()
    with pytest.raises(FileProblem, match="not a DICOM image"):
        write_sr(str(tmp_path / "x.sr.dcm"), layer_data, meta)
    assert not (tmp_path / "x.sr.dcm").exists()
