"""DICOM SR (TID 1500) and presentation state (issue 22): ``apn predict --sr`` on DICOM
inputs, read back with highdicom and pydicom.

Two sources of predictions: the bundled model on synthetic ``apn synth`` DICOMs (some
landmarks outside the view, so absent), and an oracle network that puts each landmark
where it is told (:func:`tests.core.test_inference.oracle_predictor`) — a knee moved
40 mm is flagged by the plausibility checks and an ankle given as NaN is absent, so the
flagged/absent paths are exercised end to end through the predict job."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

hd = pytest.importorskip("highdicom", reason="the [dicom] extra (highdicom) is not installed")
import pydicom  # noqa: E402

from apn_core.cli.main import main  # noqa: E402
from apn_core.dicom_out.files import pr_path, sr_path  # noqa: E402
from apn_core.dicom_out.result import DICOM_OFFSET, from_dicom_xy, to_dicom_xy  # noqa: E402
from apn_core.inference.outputs import read_record  # noqa: E402
from apn_core.io import write_dicom, write_tiff  # noqa: E402
from apn_core.landmarks import DEFAULT_LANDMARKS  # noqa: E402
from apn_core.synth import SynthConfig, write_synthetic_folder  # noqa: E402
from tests.core.test_inference import oracle_predictor  # noqa: E402
from tests.core.test_review_outputs import SPACING, TRUTH  # noqa: E402

UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
IDENTITY = {
    "SpecificCharacterSet": "ISO_IR 100",  # Latin-1 source: the SR (UTF-8) keeps the letters
    "PatientName": "Müller^Jörg",
    "PatientID": "P-0042",
    "PatientBirthDate": "19600203",
    "PatientSex": "F",
    "AccessionNumber": "ACC-77",
    "StudyID": "S1",
    "StudyTime": "101500",
    "ReferringPhysicianName": "House^Greg",
}


# -- reading what was written --------------------------------------------------------------


def sr_landmarks(sr) -> dict[str, dict]:
    """Landmark name → {xy (apn px) or None, confidence, presence, review, reason}."""
    out = {}
    content = sr.content
    groups = list(content.get_planar_roi_measurement_groups()) + list(
        content.get_image_measurement_groups()
    )
    for g in groups:
        name = g.tracking_identifier
        if name not in DEFAULT_LANDMARKS.names:
            continue
        evaluations = {q.name.meaning: q.value.meaning for q in g.get_qualitative_evaluations()}
        measurements = {m.name.meaning: m for m in g.get_measurements()}
        roi = getattr(g, "roi", None)
        out[name] = {
            "xy": None if roi is None else from_dicom_xy(roi.value)[0],
            "graphic_type": None if roi is None else roi.graphic_type.value,
            "confidence": measurements["Landmark confidence"].value
            if "Landmark confidence" in measurements
            else None,
            "unit": measurements["Landmark confidence"].unit.value
            if "Landmark confidence" in measurements
            else None,
            "presence": evaluations["Landmark presence"],
            "review": evaluations["Review status"],
            "texts": _texts(g),
        }
    return out


def _texts(group) -> list[str]:
    """The group's review reasons and notes on measurements not reported (TEXT items)."""
    return [
        str(item.TextValue)
        for item in group[0].ContentSequence
        if item.ValueType == "TEXT"
        and item.ConceptNameCodeSequence[0].CodeValue in ("REVIEW_REASON", "NOT_REPORTED")
    ]


def all_text(ds) -> str:
    """Every string value of a dataset, nested sequences included, one per line."""
    return "\n".join(
        str(e.value) for e in ds.iterall() if isinstance(e.value, str) and e.VR != "SQ"
    )


def sr_groups(sr) -> dict[str, object]:
    return {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}


def leg_values(group) -> dict[str, tuple[float, str]]:
    return {m.name.value: (m.value, m.unit.value) for m in group.get_measurements()}


def unknown(group) -> set[str]:
    return {
        q.name.value
        for q in group.get_qualitative_evaluations()
        if q.value.meaning == "Value unknown"
    }


def float32_close(a, b) -> bool:
    """Equal to the SCOORD's stored precision (32-bit float of the DICOM coordinate)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ulp = np.spacing(np.float32(np.abs(b).max() + 1))
    return bool(np.all(np.abs(a - b) <= ulp))


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    """Three `apn synth` DICOMs (1 mm/px, MONOCHROME1 and 2; restricted views), with the
    bundled model's predictions and SRs written by the CLI."""
    root = tmp_path_factory.mktemp("sr")
    data = write_synthetic_folder(
        root / "data",
        3,
        seed=5,
        config=SynthConfig(
            spacing_mm=1.0, formats=("dicom", "dicom-mono1"), restricted_fraction=0.5
        ),
    )
    assert main(["predict", str(data), "--out", str(root / "out"), "--sr"]) == 0
    return root


def _images(root: Path) -> list[Path]:
    return sorted((root / "data").glob("*.dcm"))


def _dicom(path: Path, photometric: str = "MONOCHROME2", identity: dict | None = None) -> Path:
    """A 2000 × 760 DX image at 0.5 mm/px (any pixels: the oracle ignores them)."""
    pixels = (np.arange(2000 * 760, dtype=np.uint32).reshape(2000, 760) % 4096).astype(np.uint16)
    write_dicom(path, pixels, (SPACING, SPACING), photometric=photometric, bits_stored=12)
    if identity:
        ds = pydicom.dcmread(path)
        for keyword, value in identity.items():
            setattr(ds, keyword, value)
        ds.save_as(path)
    return path


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    """One image predicted by the oracle: knee_right 40 mm off (flagged), ankle_left absent;
    a MONOCHROME1 source with a full set of patient/study attributes."""
    root = tmp_path_factory.mktemp("oracle")
    truth = TRUTH.copy()
    truth[2, 1] += 40 / SPACING
    truth[5] = np.nan
    _dicom(root / "in" / "leg.dcm", "MONOCHROME1", IDENTITY)
    predictor = oracle_predictor(truth, (2000, 760))
    mp = pytest.MonkeyPatch()
    mp.setattr("apn_core.inference.Predictor.load", lambda *a, **k: predictor)
    try:
        from apn_core.inference.jobs import run_predict_job

        summary = run_predict_job([root / "in"], root / "out", sr=True)
    finally:
        mp.undo()
    assert summary.exit_code() == 0, summary.failed
    return root


# -- the coordinate convention -------------------------------------------------------------


def test_pixel_centres_are_half_a_pixel_from_dicoms_corner_origin():
    """apn: (0, 0) = centre of the top-left pixel; DICOM SCOORD/PIXEL: (0, 0) = its top-left
    corner, so (0.5, 0.5) = its centre (PS3.3 C.18.6.1.2; highdicom's transforms agree)."""
    from highdicom.spatial import ImageToReferenceTransformer

    assert DICOM_OFFSET == 0.5
    xy = np.array([[0.0, 0.0], [12.25, 7.5], [-0.5, -0.5]])
    np.testing.assert_array_equal(to_dicom_xy(xy), [[0.5, 0.5], [12.75, 8.0], [0.0, 0.0]])
    np.testing.assert_array_equal(from_dicom_xy(to_dicom_xy(xy)), xy)
    # highdicom maps DICOM (col, row) to patient mm; pixel (0, 0)'s centre must land on
    # ImagePositionPatient, i.e. apn's (0, 0)
    t = ImageToReferenceTransformer([10.0, 20.0, 0.0], [1, 0, 0, 0, 1, 0], [0.5, 0.5])
    np.testing.assert_allclose(t(to_dicom_xy(np.array([[0.0, 0.0]]))), [[10.0, 20.0, 0.0]])
    np.testing.assert_allclose(t(to_dicom_xy(np.array([[4.0, 2.0]]))), [[12.0, 21.0, 0.0]])


# -- the bundled model on synthetic DICOMs -------------------------------------------------


def test_sr_reads_back_with_the_records_landmarks_and_measurements(synth):
    out = synth / "out"
    n_absent = 0
    for image in _images(synth):
        name = image.name
        record = read_record(out, name)
        sr = hd.sr.srread(sr_path(out, name))
        source = pydicom.dcmread(image, stop_before_pixels=True)
        assert sr.SOPClassUID == SR_CLASS and sr.Modality == "SR"
        got = sr_landmarks(sr)
        assert set(got) == set(DEFAULT_LANDMARKS.names)
        for row in record["rows"]:
            lm = got[row["landmark"]]
            assert lm["confidence"] == pytest.approx(row["confidence"], rel=1e-12)
            assert lm["unit"] == "1"
            assert lm["review"] == (
                "Needs review" if row["needs_review"] else "Not flagged for review"
            )
            if row["present"]:
                assert lm["presence"] == "Present" and lm["graphic_type"] == "POINT"
                assert float32_close(lm["xy"], [row["x"], row["y"]]), (lm["xy"], row)
            else:  # absent: no coordinates at all, never a silent number
                n_absent += 1
                assert lm["presence"] == "Absent" and lm["xy"] is None
        groups = sr_groups(sr)
        for side in ("right", "left"):
            leg, expected = groups[f"{side} leg"], record["alignment"][side]
            values = leg_values(leg)
            for key, code in (
                ("hka_deg", "HKA"),
                ("mad_mm", "MAD"),
                ("length_mm", "MECH_LENGTH"),
                ("femur_mm", "FEMUR_LENGTH"),
                ("tibia_mm", "TIBIA_LENGTH"),
            ):
                if (
                    expected[key] is None
                ):  # blank in measurements.csv: no NUM, "Value unknown" + why
                    assert code not in values and code in unknown(leg)
                    note = record["alignment_notes"][f"{side}.{key}"]
                    assert any(note in t for t in _texts(leg))
                else:
                    assert values[code] == (
                        pytest.approx(expected[key], rel=1e-12),
                        "deg" if key == "hka_deg" else "mm",
                    )
        lld = groups["leg-length discrepancy"]
        if record["alignment"]["lld_mm"] is None:
            assert "LLD" in unknown(lld)
        else:
            assert leg_values(lld)["LLD"][0] == pytest.approx(record["alignment"]["lld_mm"])
        # the reference: the source image, by its own UIDs
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
        assert evidence.StudyInstanceUID == source.StudyInstanceUID
        series = evidence.ReferencedSeriesSequence[0]
        assert series.SeriesInstanceUID == source.SeriesInstanceUID
        assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
        for keyword in ("StudyInstanceUID", "PatientID", "PatientName", "StudyDate"):
            assert sr[keyword].value == source[keyword].value
        # what the synthetic source lacks stays empty (Type 2 "unknown"), never invented
        for keyword in ("PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID"):
            assert keyword not in source and sr[keyword].value in ("", None)
    assert n_absent > 0, "the restricted synthetic views should leave some landmark absent"


def test_sr_names_the_algorithm_by_model_version_and_sha256(synth):
    from apn_core import __version__

    out = synth / "out"
    name = _images(synth)[0].name
    record = read_record(out, name)
    ds = pydicom.dcmread(sr_path(out, name))
    text = all_text(ds)
    assert f"napari-apn {record['model']['name']}" in text
    assert f"weights_sha256={record['model']['weights_sha256']}" in text
    assert f"calibration_sha256={record['model']['calibration_sha256']}" in text
    assert ds.SoftwareVersions == __version__ and ds.Manufacturer == "napari-apn"
    assert ds.VerificationFlag == "UNVERIFIED" and ds.ContentQualification == "RESEARCH"
    named = {}  # TID 4019 items, by their concept name
    for item in ds.iterall():
        if item.keyword == "ContentSequence":
            for ci in item.value:
                if ci.get("ValueType") == "TEXT":
                    named.setdefault(ci.ConceptNameCodeSequence[0].CodeMeaning, set()).add(
                        ci.TextValue
                    )
    assert named["Algorithm Name"] == {f"napari-apn {record['model']['name']}"}
    assert named["Algorithm Version"] == {__version__}


def test_hka_carries_the_cited_normal_range(synth):
    ds = pydicom.dcmread(sr_path(synth / "out", _images(synth)[1].name))
    text = all_text(ds)
    assert "Moreland JR" in text and "Normal Range Lower Limit" in text and "Knutson GA" in text


def test_presentation_state_draws_the_points_and_axes_on_the_source(synth):
    out = synth / "out"
    for image in _images(synth):
        record = read_record(out, image.name)
        pr = pydicom.dcmread(pr_path(out, image.name))
        source = pydicom.dcmread(image, stop_before_pixels=True)
        assert pr.SOPClassUID == GSPS_CLASS and pr.Modality == "PR"
        assert pr.StudyInstanceUID == source.StudyInstanceUID
        ref = pr.ReferencedSeriesSequence[0]
        assert ref.SeriesInstanceUID == source.SeriesInstanceUID
        assert ref.ReferencedImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
        shape = "INVERSE" if source.PhotometricInterpretation == "MONOCHROME1" else "IDENTITY"
        assert pr.PresentationLUTShape == shape
        objects = [
            o for a in pr.GraphicAnnotationSequence for o in a.get("GraphicObjectSequence", [])
        ]
        points = [np.array(o.GraphicData, float) for o in objects if o.GraphicType == "POINT"]
        present = [r for r in record["rows"] if r["present"]]
        assert len(points) == len(present)
        for point, row in zip(points, present, strict=True):
            assert float32_close(from_dicom_xy(point), [row["x"], row["y"]])
        lines = [o for o in objects if o.GraphicType == "POLYLINE"]
        legs = sum(
            all(r["present"] for r in record["rows"] if r["landmark"].endswith(side))
            for side in ("_right", "_left")
        )
        assert len(lines) == 2 * legs  # per leg: hip→ankle, and hip→knee→ankle
        texts = [
            t.UnformattedTextValue
            for a in pr.GraphicAnnotationSequence
            for t in a.get("TextObjectSequence", [])
        ]
        for row in present:
            assert any(t.startswith(row["landmark"]) for t in texts)
        if len(present) < 6:
            assert any(t.startswith("absent: ") for t in texts)


def test_uids_are_valid_unique_and_derived_from_result(synth, tmp_path):
    out = synth / "out"
    uids = []
    sources = set()
    for image in _images(synth):
        source = pydicom.dcmread(image, stop_before_pixels=True)
        sources |= {source.SOPInstanceUID, source.SeriesInstanceUID, source.StudyInstanceUID}
        for path in (sr_path(out, image.name), pr_path(out, image.name)):
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            assert ds.StudyInstanceUID == source.StudyInstanceUID
            uids.append(ds.SOPInstanceUID)
            for uid in (ds.SOPInstanceUID, ds.SeriesInstanceUID):
                assert UID_RE.match(uid) and len(uid) <= 64
                assert uid not in sources
    assert len(set(uids)) == len(uids) == 2 * len(_images(synth))
    # another option (no flip averaging) is another result: new UIDs
    other = tmp_path / "other"
    image = _images(synth)[0]
    assert main(["predict", str(image), "--out", str(other), "--sr", "--no-flip"]) == 0
    again = pydicom.dcmread(sr_path(other, image.name)).SOPInstanceUID
    assert again not in uids


def test_a_rerun_keeps_the_objects_and_another_model_replaces_them(synth, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(synth / "out", out)
    files = sorted((out / "dicom").iterdir())
    before = {p: p.stat().st_mtime_ns for p in files}
    uids = {p: pydicom.dcmread(p).SOPInstanceUID for p in files}
    capsys.readouterr()
    assert main(["predict", str(synth / "data"), "--out", str(out), "--sr"]) == 0
    assert "0 SR + presentation state(s) written, 3 kept" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in files} == before
    # the same result from an empty folder: the same UIDs (what a PACS re-run relies on)
    fresh = tmp_path / "fresh"
    assert main(["predict", str(synth / "data"), "--out", str(fresh), "--sr"]) == 0
    for p in files:
        assert pydicom.dcmread(fresh / "dicom" / p.name).SOPInstanceUID == uids[p]
    # a result predicted again without --sr loses its stale SR
    assert main(["predict", str(synth / "data"), "--out", str(out), "--redo"]) == 0
    assert not any((out / "dicom").iterdir())


def test_a_flagged_and_an_absent_landmark_are_written_as_such(oracle_run):
    root = oracle_run
    out = root / "out"
    sr = hd.sr.srread(sr_path(out, "leg.dcm"))
    got = sr_landmarks(sr)
    record = read_record(out, "leg.dcm")
    rows = {r["landmark"]: r for r in record["rows"]}
    flagged = [n for n, r in rows.items() if r["needs_review"]]
    assert flagged and not rows["ankle_left"]["present"]  # the oracle's knee is caught
    for name, row in rows.items():
        lm = got[name]
        if row["needs_review"]:
            assert lm["review"] == "Needs review" and lm["texts"] == [row["review_reason"]]
        else:
            assert lm["review"] == "Not flagged for review" and lm["texts"] == []
        if row["present"]:
            assert lm["presence"] == "Present"
            assert float32_close(lm["xy"], [row["x"], row["y"]])
    assert got["ankle_left"]["presence"] == "Absent" and got["ankle_left"]["xy"] is None
    groups = sr_groups(sr)
    codes = {"hka_deg": "HKA", "mad_mm": "MAD", "length_mm": "MECH_LENGTH"}
    codes |= {"femur_mm": "FEMUR_LENGTH", "tibia_mm": "TIBIA_LENGTH"}
    blanked = 0
    for side in ("right", "left"):
        leg = groups[f"{side} leg"]
        for key, code in codes.items():
            value = record["alignment"][side][key]
            if value is None:
                blanked += 1
                note = record["alignment_notes"][f"{side}.{key}"]
                assert code in unknown(leg) and code not in leg_values(leg)
                assert any(t.endswith(note) for t in _texts(leg))
            else:
                assert leg_values(leg)[code][0] == pytest.approx(value, rel=1e-12)
        review = {q.name.value: q.value.meaning for q in leg.get_qualitative_evaluations()}
        assert review["REVIEW"] == "Needs review"  # each leg has a flagged landmark
    assert blanked >= 5 and any("ankle_left absent" in t for t in _texts(groups["left leg"]))
    assert "LLD" in unknown(groups["leg-length discrepancy"])
    image_review = groups["image review"].get_qualitative_evaluations()[0]
    assert image_review.value.meaning == "Needs review"
    # every patient/study attribute is the source's
    for keyword, value in IDENTITY.items():
        if keyword != "SpecificCharacterSet":
            assert str(sr[keyword].value) == value
    pr = pydicom.dcmread(pr_path(out, "leg.dcm"))
    assert pr.PresentationLUTShape == "INVERSE"
    texts = [
        t.UnformattedTextValue
        for a in pr.GraphicAnnotationSequence
        for t in a.get("TextObjectSequence", [])
    ]
    assert "absent: ankle_left" in texts
    for name in flagged:
        assert f"{name} (review)" in texts
        assert any(t.startswith("NEEDS REVIEW: ") and name in t for t in texts)
    assert pr.SoftcopyVOILUTSequence[0].WindowWidth > 0  # the source names no window: one is set


def test_non_dicom_inputs_are_refused_before_anything_runs(tmp_path, capsys):
    image = np.full((400, 150), 1000, np.uint16)
    image[100:300, 50:100] = 3000
    write_tiff(tmp_path / "in" / "leg.tif", image, (2.0, 2.0))
    code = main(["predict", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--sr"])
    err = capsys.readouterr()
    assert code == 2
    assert "leg.tif" in err.out and "--sr writes DICOM objects" in err.out
    assert "not a DICOM image" in err.out and "predict it without --sr" in err.out
    assert not (tmp_path / "out" / "predictions").exists()  # nothing was predicted


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_or_a_non_dicom_file_for_sr_is_refused_plainly(tmp_path):
    """``apn predict x.dcm --sr`` with x.dcm a FIFO waited forever in pydicom; a non-DICOM
    file's reason was pydicom's own text ("Use force=True to force reading")."""
    import threading

    from apn_core.dicom_out.source import is_dicom_input

    fifo = tmp_path / "x.dcm"
    os.mkfifo(fifo)
    result = {}
    thread = threading.Thread(target=lambda: result.update(why=is_dicom_input(fifo)), daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():  # let the blocked open return, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail("is_dicom_input waited on a FIFO")
    assert "not a regular file" in result["why"]
    text = tmp_path / "y.dcm"
    text.write_bytes(b"not a DICOM file at all" * 10)
    why = is_dicom_input(text)
    assert "not a DICOM image (no DICOM file header)" in why and "force" not in why, why


def test_a_mixed_folder_predicts_the_dicoms_and_fails_the_others(synth, tmp_path, capsys):
    data = tmp_path / "in"
    data.mkdir()
    shutil.copy(_images(synth)[0], data / "a.dcm")
    write_tiff(data / "b.tif", np.full((400, 150), 7, np.uint16), (2.0, 2.0))
    bare = pydicom.dcmread(_images(synth)[1])
    del bare.StudyInstanceUID  # a DICOM that names no study cannot be referenced
    bare.save_as(data / "c.dcm")
    code = main(["predict", str(data), "--out", str(tmp_path / "out"), "--sr"])
    out = capsys.readouterr().out
    assert code == 1
    assert "failed: b.tif:" in out and "failed: c.dcm:" in out and "no StudyInstanceUID" in out
    assert sr_path(tmp_path / "out", "a.dcm").is_file()
    assert not sr_path(tmp_path / "out", "b.tif").exists()


def test_missing_highdicom_names_the_extra(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "highdicom", None)  # import highdicom → ImportError
    code = main(["predict", str(tmp_path), "--out", str(tmp_path / "out"), "--sr"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no image files" in err or 'pip install "napari-apn[dicom]"' in err
    _dicom(tmp_path / "leg.dcm")
    code = main(["predict", str(tmp_path / "leg.dcm"), "--out", str(tmp_path / "out"), "--sr"])
    assert code == 2 and 'pip install "napari-apn[dicom]"' in capsys.readouterr().err


def test_records_and_sr_agree_after_json_round_trip(synth):
    """The SR is made from the stored record alone (the re-run path): the record's
    numbers are the SR's numbers."""
    out = synth / "out"
    name = _images(synth)[1].name
    record = json.loads((out / "predictions" / f"{name}.json").read_text())
    got = sr_landmarks(hd.sr.srread(sr_path(out, name)))
    for row in record["rows"]:
        if row["present"]:
            np.testing.assert_allclose(got[row["landmark"]]["xy"], [row["x"], row["y"]], atol=1e-3)


def test_an_image_with_every_landmark_absent_still_gets_both_objects(tmp_path):
    from apn_core.dicom_out.gsps import build_gsps
    from apn_core.dicom_out.result import Algorithm, LandmarkResult
    from apn_core.dicom_out.source import read_source
    from apn_core.dicom_out.sr import build_sr

    source = read_source(_dicom(tmp_path / "leg.dcm"))
    nan = np.full((6, 2), np.nan)
    result = LandmarkResult(
        names=DEFAULT_LANDMARKS.names,
        xy=nan,
        present=np.zeros(6, bool),
        confidence=np.full(6, 0.01),
        needs_review=np.zeros(6, bool),
        reasons=("",) * 6,
        alignment={"right": {}, "left": {}, "lld_mm": None},
        notes={},
        algorithm=Algorithm("m", "0" * 64, spacing=(SPACING, SPACING)),
    )
    pr = build_gsps(source, result)
    objects = [o for a in pr.GraphicAnnotationSequence for o in a.get("GraphicObjectSequence", [])]
    assert objects == []
    texts = [
        t.UnformattedTextValue
        for a in pr.GraphicAnnotationSequence
        for t in a.get("TextObjectSequence", [])
    ]
    assert "absent: " + ", ".join(DEFAULT_LANDMARKS.names) in texts
    sr = build_sr(source, result)
    path = tmp_path / "leg.sr.dcm"
    sr.save_as(path)
    got = sr_landmarks(hd.sr.srread(path))
    assert all(v["presence"] == "Absent" and v["xy"] is None for v in got.values())
    assert len(got) == 6


def test_an_sr_needs_dicom_input_and_inputs_and_dicomweb_are_exclusive(tmp_path, capsys):
    _dicom(tmp_path / "leg.dcm")
    server = ["--dicomweb", "http://127.0.0.1:9", "--study", "1.2"]
    code = main(["predict", str(tmp_path / "leg.dcm"), *server, "--out", str(tmp_path / "out")])
    assert code == 2 and "not both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["predict", "--out", str(tmp_path / "out")])
    assert exc.value.code == 2 and "or --dicomweb URL" in capsys.readouterr().err


def test_credentials_in_a_url_are_never_printed():
    from apn_core.dicomweb.server import redacted

    assert redacted("https://bob:hunter2@pacs.example:8443/dicom-web") == (
        "https://***@pacs.example:8443/dicom-web"
    )
    assert redacted("http://127.0.0.1:8042/dicom-web") == "http://127.0.0.1:8042/dicom-web"
