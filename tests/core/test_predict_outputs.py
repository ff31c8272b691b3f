"""``apn predict`` outputs: unique names per input, re-run rules, spacing precedence,
tables without NaN. Uses the bundled model on tiny synthetic radiographs (2 mm/px) and an
untrained ``tiny`` run folder as "another model"."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from apn_core.cli.main import main
from apn_core.inference import Predictor
from apn_core.inference.jobs import collect_inputs, run_predict_job
from apn_core.inference.outputs import OUTPUT_MARKER, read_record, record_path
from apn_core.synth import SynthConfig, write_synthetic_folder


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    """Three different synthetic radiographs at 2 mm/px: two DICOM, one TIFF."""
    data = write_synthetic_folder(
        tmp_path_factory.mktemp("pred") / "data",
        3,
        seed=21,
        config=SynthConfig(spacing_mm=2.0, formats=("dicom", "tiff")),
    )
    return sorted(p for p in data.iterdir() if p.suffix in (".dcm", ".tif"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """An untrained ``tiny`` run folder: fast, for tests about files rather than positions
    (it reports every landmark absent), and "another model" than the bundled one."""
    import torch

    from apn_core import runs
    from apn_core.models import build_networks
    from apn_core.presets import get_preset

    run = tmp_path_factory.mktemp("tiny") / "run"
    run.mkdir()
    config = get_preset("tiny")
    runs.save_config(run, config)
    torch.manual_seed(0)
    runs.save_checkpoint(run, "best", build_networks(config).state_dict(), {})
    return run


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load("default", flip_test=False)


def _place(target: Path, source: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _rows(out: Path, name: str = "landmarks.csv") -> list[dict]:
    with open(out / name, newline="") as fh:
        return list(csv.DictReader(fh))


def _xy_by_image(out: Path) -> dict[str, np.ndarray]:
    table: dict[str, list] = {}
    for r in _rows(out):
        table.setdefault(r["image"], []).append(
            [float(r["x"]) if r["x"] else np.nan, float(r["y"]) if r["y"] else np.nan]
        )
    return {k: np.array(v) for k, v in table.items()}


@pytest.fixture
def predict(capsys, tiny):
    """``apn predict ARGS`` in-process → (exit code, stdout). The tiny model unless
    ``model`` is given; no reader process and no flip averaging unless asked: the tests are
    about files, not accuracy, and stay fast."""

    def run(*args: str, model: str | Path | None = None, flip: bool = False) -> tuple[int, str]:
        argv = ["predict", "--workers", "0", "--model", str(model or tiny), *args]
        code = main(argv + ([] if flip else ["--no-flip"]))
        captured = capsys.readouterr()
        run.err = captured.err  # the last command's stderr
        return code, captured.out

    run.capsys = capsys
    return run


# --- unique output names (issue 10.1) -------------------------------------------------


def test_same_file_name_in_two_input_folders_keeps_both_results(
    tmp_path, images, predictor, predict
):
    a = _place(tmp_path / "A" / "case1.dcm", images[0])
    b = _place(tmp_path / "B" / "case1.dcm", images[1])
    out = tmp_path / "out"
    code, text = predict(str(a.parent), str(b.parent), "--out", str(out), model="default")
    assert code == 0 and text.startswith("2 predicted, 0 already done, 0 failed")
    table = _xy_by_image(out)
    assert set(table) == {"A/case1.dcm", "B/case1.dcm"}
    for name, path in (("A/case1.dcm", a), ("B/case1.dcm", b)):  # each row is its own image's
        np.testing.assert_allclose(table[name], predictor.predict_file(path).xy, atol=2e-3)
        assert (out / f"{name}.mrk.json").is_file()
    assert read_record(out, "A/case1.dcm")["source"] != read_record(out, "B/case1.dcm")["source"]
    code, text = predict(str(a.parent), str(b.parent), "--out", str(out), model="default")
    assert code == 0 and text.startswith("0 predicted, 2 already done, 0 failed")


@pytest.mark.parametrize(
    ("files", "names"),
    [
        (("leg.dcm", "leg.tif"), ["leg.dcm", "leg.tif"]),  # same stem, other format
        (("a/b.dcm", "a__b.dcm"), ["a/b.dcm", "a__b.dcm"]),  # old flattening collided here
        (("Leg.dcm", "leg.dcm"), ["Leg.dcm", "leg~2.dcm"]),  # a case-insensitive disk merges
    ],
)
def test_names_that_used_to_collide_in_one_folder(tmp_path, images, files, names, predict, capsys):
    data = tmp_path / "data"
    for f, src in zip(files, images[:2], strict=True):
        _place(data / f, images[2] if f.endswith(".tif") else src)
    out = tmp_path / "out"
    code, text = predict(str(data), "--out", str(out))
    assert code == 0 and text.startswith("2 predicted")
    assert sorted(_xy_by_image(out)) == sorted(names)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mrk.json")) == sorted(
        f"{n}.mrk.json" for n in names
    )


def test_equal_input_names_and_equal_file_names_are_numbered(tmp_path, images):
    x = _place(tmp_path / "x" / "data" / "leg.dcm", images[0]).parent
    y = _place(tmp_path / "y" / "data" / "leg.dcm", images[1]).parent
    found, _ = collect_inputs([x, y])
    assert [i.name for i in found] == ["data/leg.dcm", "data~2/leg.dcm"]
    found, _ = collect_inputs([x / "leg.dcm", y / "leg.dcm", x / "leg.dcm"])  # one given twice
    assert [i.name for i in found] == ["leg.dcm", "leg~2.dcm"]


# --- re-runs (issue 10.11) --------------------------------------------------------------


@pytest.fixture
def data(tmp_path, images) -> Path:
    folder = tmp_path / "data"
    for p in images:
        _place(folder / p.name, p)
    return folder


def test_rerun_redoes_missing_overlays_then_skips(tmp_path, data, predict, capsys):
    out = tmp_path / "out"
    assert predict(str(data), "--out", str(out))[0] == 0
    code, text = predict(str(data), "--out", str(out), "--overlays")
    assert code == 0 and text.startswith("3 predicted (3 redone), 0 already done")
    assert "redone (its overlay was missing)" in text
    assert len(list((out / "overlays").glob("*.png"))) == 3
    assert predict(str(data), "--out", str(out), "--overlays")[1].startswith(
        "0 predicted, 3 already done"
    )


def test_rerun_with_another_model_or_options_redoes_and_never_mixes(tmp_path, data, tiny, predict):
    out = tmp_path / "out"
    assert predict(str(data), "--out", str(out), model="default")[0] == 0
    code, text = predict(str(data), "--out", str(out))
    assert code == 0 and text.startswith("3 predicted (3 redone)")
    assert "made by another model (bundled:default)" in text
    for name in ("synth_21_0000.dcm", "synth_21_0001.dcm", "synth_21_0002.tif"):
        assert read_record(out, name)["model"]["name"] == str(tiny)
    code, text = predict(str(data), "--out", str(out), flip=True)
    assert code == 0 and "redone (made with other options (flip averaging))" in text


def test_another_calibration_redoes_the_images_and_a_missing_one_is_refused(
    tmp_path, data, predict, capsys
):
    """The calibration decides confidences and review flags: a result made without it (or
    with another) is not "done" (found in review: a new calibration.json changed nothing)."""
    from apn_core.inference.model_store import BUNDLED_DIR

    out = tmp_path / "out"
    fitted = json.loads((BUNDLED_DIR / "default" / "calibration.json").read_text())
    del fitted["fitted_on"]["weights_sha256"]  # an older file: used (with a warning) on any model
    calibration = str(tmp_path / "calibration.json")
    Path(calibration).write_text(json.dumps(fitted))
    assert predict(str(data), "--out", str(out))[0] == 0
    code, text = predict(str(data), "--out", str(out), "--calibration", calibration)
    assert code == 0 and "redone (made with another calibration)" in text
    assert read_record(out, "synth_21_0000.dcm")["model"]["calibration_sha256"]
    assert predict(str(data), "--out", str(out), "--calibration", calibration)[1].startswith(
        "0 predicted, 3 already done"
    )
    argv = ["predict", str(data), "--out", str(out), "--calibration", str(tmp_path / "no.json")]
    assert main(argv) == 2
    assert "no.json: calibration file not found" in capsys.readouterr().err


def test_rerun_redoes_a_changed_image_file(tmp_path, data, images, predict, capsys):
    out = tmp_path / "out"
    assert predict(str(data), "--out", str(out))[0] == 0
    shutil.copyfile(images[1], data / images[0].name)  # replaced by another radiograph
    code, text = predict(str(data), "--out", str(out))
    assert code == 0 and text.startswith("1 predicted (1 redone), 2 already done")
    assert "the image file changed" in text


def test_a_leftover_temporary_record_is_not_a_result(tmp_path, data, predict, capsys):
    """An atomic write killed between write and rename leaves ``.<name>.<random>.tmp.json``;
    the old re-run check globbed ``*.json`` and counted such an image as done."""
    out = tmp_path / "out"
    assert predict(str(data), "--out", str(out))[0] == 0
    record = record_path(out, "synth_21_0000.dcm")
    record.rename(record.with_name(".synth_21_0000.dcm.k3j2.tmp.json"))
    (out / "synth_21_0000.dcm.mrk.json").unlink()
    code, text = predict(str(data), "--out", str(out))
    assert code == 0 and text.startswith("1 predicted, 2 already done")
    assert record.is_file() and (out / "synth_21_0000.dcm.mrk.json").is_file()


def test_a_result_of_another_file_with_the_same_name_is_never_replaced(
    tmp_path, images, predict, capsys
):
    first = _place(tmp_path / "x" / "leg.dcm", images[0])
    second = _place(tmp_path / "y" / "leg.dcm", images[1])
    out = tmp_path / "out"
    assert predict(str(first), "--out", str(out))[0] == 0
    code, text = predict(str(second), "--out", str(out))
    assert code == 2 and "1 failed" in text and "result of another file" in text
    assert read_record(out, "leg.dcm")["source"] == str(first.resolve())
    code, text = predict(str(second), "--out", str(out), "--redo")
    assert code == 0 and read_record(out, "leg.dcm")["source"] == str(second.resolve())


# --- tables, exit codes ----------------------------------------------------------------


def test_exit_codes_some_and_all_inputs_failed(tmp_path, data, predict, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(2):
        (bad / f"broken{i}.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x01" * 50)
    shutil.copytree(data, bad, dirs_exist_ok=True)
    code, text = predict(str(bad), "--out", str(tmp_path / "o1"))
    assert code == 1 and text.startswith("3 predicted, 0 already done, 2 failed")
    assert text.count("failed: broken") == 2
    for f in data.iterdir():
        if f.suffix in (".dcm", ".tif"):
            (bad / f.name).unlink()
    code, text = predict(str(bad), "--out", str(tmp_path / "o2"))
    assert code == 2 and "0 predicted, 0 already done, 2 failed" in text
    assert "wrote no tables" in text and not (tmp_path / "o2" / "landmarks.csv").exists()


def test_tables_cover_every_record_and_empty_cells_never_nan(tmp_path, data, predict, capsys):
    out = tmp_path / "out"
    assert predict(str(data), "--out", str(out), model="default")[0] == 0
    record = read_record(out, "synth_21_0000.dcm")
    record["rows"][2].update(x=None, y=None, x_mm=None, y_mm=None, present=False)  # knee_right
    record["alignment"]["right"].update(hka_deg=None, mad_mm=None)
    record_path(out, "synth_21_0000.dcm").write_text(json.dumps(record))
    from apn_core.inference.outputs import write_tables

    write_tables(out)
    text = (out / "measurements.csv").read_text()
    assert "nan" not in text.lower()
    right = next(r for r in _rows(out, "measurements.csv") if r["side"] == "right")
    assert right["hka_deg"] == "" and right["mad_mm"] == "" and right["note"] == "knee_right absent"
    assert {r["image"] for r in _rows(out)} == {p.name for p in data.iterdir()}


def test_an_empty_leg_length_discrepancy_says_why_on_both_rows(tmp_path, data, predict):
    """Found in review: with ankle_left absent, the right leg's row had an empty lld_mm and
    an empty note."""
    out = tmp_path / "out"
    assert predict(str(data), "--out", str(out), model="default")[0] == 0
    record = read_record(out, "synth_21_0000.dcm")
    record["rows"][5].update(x=None, y=None, x_mm=None, y_mm=None, present=False)  # ankle_left
    record["alignment"]["left"].update(hka_deg=None, mad_mm=None, length_mm=None, tibia_mm=None)
    record["alignment"]["lld_mm"] = None
    record_path(out, "synth_21_0000.dcm").write_text(json.dumps(record))
    from apn_core.inference.outputs import write_tables

    write_tables(out)
    table = _rows(out, "measurements.csv")
    rows = {r["side"]: r for r in table if r["image"] == "synth_21_0000.dcm"}
    assert rows["right"]["hka_deg"] and rows["right"]["lld_mm"] == ""
    assert rows["right"]["note"] == rows["left"]["note"] == "ankle_left absent"


# --- spacing precedence (issue 10.8) ----------------------------------------------------


def test_spacing_is_a_fallback_and_override_replaces(tmp_path, images, predict, capsys):
    dicom = images[0]  # PixelSpacing 2.0 mm
    out = tmp_path / "fallback"
    code, text = predict(str(dicom), "--out", str(out), "--spacing", "3", model="default")
    assert code == 0 and "differs from --spacing 3 mm/px; the file's is used" in text
    rec = read_record(out, dicom.name)
    assert rec["spacing"] == [2.0, 2.0] and rec["spacing_from"] == "file"
    row = next(r for r in _rows(out) if r["x"])
    assert float(row["x_mm"]) == pytest.approx(float(row["x"]) * 2.0, abs=2e-3)

    out = tmp_path / "override"
    code, text = predict(str(dicom), "--out", str(out), "--override-spacing", "3", model="default")
    rec = read_record(out, dicom.name)
    assert code == 0 and rec["spacing"] == [3.0, 3.0] and "override" in rec["spacing_source"]
    row = next(r for r in _rows(out) if r["x"])
    assert float(row["x_mm"]) == pytest.approx(float(row["x"]) * 3.0, abs=2e-3)


def test_spacing_fills_in_for_a_png_and_a_new_value_redoes_only_those(
    tmp_path, images, predict, capsys
):
    import imageio.v3 as iio

    from apn_core.io import read_radiograph

    data = tmp_path / "data"
    _place(data / "leg.dcm", images[0])
    pixels = read_radiograph(images[1]).pixels
    iio.imwrite(data / "leg.png", (pixels / pixels.max() * 255).astype(np.uint8))
    out = tmp_path / "out"
    none = ("--calibration-object", "none")  # the film's ruler would give the PNG a spacing
    code, text = predict(str(data), "--out", str(out), *none)
    assert code == 1 and "leg.png: no pixel spacing" in text
    code, text = predict(str(data), "--out", str(out), "--spacing", "2", *none)
    assert code == 0 and text.startswith("1 predicted, 1 already done")  # leg.dcm kept
    assert read_record(out, "leg.png")["spacing_from"] == "fallback"
    code, text = predict(str(data), "--out", str(out), "--spacing", "2.5", *none)
    assert text.startswith("1 predicted (1 redone), 1 already done")
    assert "made with another --spacing" in text


# --- output folder inside the input, empty input (issues 10.16, 9.8) ---------------------


def test_out_inside_the_input_folder_is_not_read_back(tmp_path, data, predict, capsys):
    out = data / "predicted"
    assert predict(str(data), "--out", str(out), "--overlays")[0] == 0
    assert (out / OUTPUT_MARKER).is_file()
    code, text = predict(str(data), "--out", str(out), "--overlays")
    assert code == 0 and text.startswith("0 predicted, 3 already done, 0 failed")
    # another output folder holding the marker, met while scanning a parent folder, is skipped too
    code, text = predict(str(data), "--out", str(tmp_path / "elsewhere"))
    assert code == 0 and text.startswith("3 predicted, 0 already done, 0 failed")


def test_an_input_folder_inside_the_output_folder_is_still_read(tmp_path, data, predict, capsys):
    code, text = predict(str(data), "--out", str(tmp_path))
    assert code == 0 and text.startswith("3 predicted")


def test_an_empty_input_folder_is_an_error_and_claims_no_table(tmp_path, predict, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["predict", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2 and "no image files found" in captured.err
    assert "landmarks.csv" not in captured.out and not (tmp_path / "out").exists()


def test_predict_summary_keeps_the_widget_fields(tmp_path, data, tiny):
    summary = run_predict_job([data], tmp_path / "out", str(tiny), workers=0)
    assert summary.line().startswith("3 predicted, 0 already done, 0 failed")
    assert len(summary.done) == 3 and summary.skipped_done == [] and not summary.cancelled
    assert summary.out == tmp_path / "out" and summary.paths["synth_21_0000.dcm"].is_file()


# --- overlay pictures (issue 9.9) -------------------------------------------------------


def _prediction(xy, present, alignment=None, shape=(400, 200)):
    from apn_core.inference.predictor import Prediction
    from apn_core.landmarks import DEFAULT_LANDMARKS

    xy = np.where(np.array(present)[:, None], np.asarray(xy, float), np.nan)
    return Prediction(
        names=DEFAULT_LANDMARKS.names,
        xy=xy,
        xy_mm=xy * 0.5,
        confidence=np.full(6, 0.9, np.float32),
        present=np.array(present),
        heatmaps=np.zeros((6, 4, 2), np.float32),
        heatmap_scale=(1, 1),
        heatmap_translate=(0, 0),
        image_shape=shape,
        spacing=(0.5, 0.5),
        alignment=alignment or {},
    )


def test_labels_stay_inside_the_picture_and_apart():
    from apn_core.inference.overlay import place_label

    width, height, size = 200, 100, (60, 12)
    point = (195, 50)  # at the right edge: the old label ran off the picture
    taken = [(190, 45, 200, 55)]
    x, y = place_label(point, size, (width, height), taken, 8)
    assert 0 <= x <= width - size[0] and 0 <= y <= height - size[1]
    assert x + size[0] <= point[0] - 8  # beside the point, not over it
    taken.append((x, y, x + size[0], y + size[1]))
    x2, y2 = place_label((185, 52), size, (width, height), taken, 8)  # a neighbour
    assert x2 + size[0] <= x or x2 >= x + size[0] or y2 + size[1] <= y or y2 >= y + size[1]


def test_overlay_says_what_is_missing_and_why_never_nan():
    from apn_core.inference.overlay import draw_overlay, measurement_lines

    nan = float("nan")
    present = [True, True, False, True, True, True]  # knee_right absent
    alignment = {
        "right": {"hka_deg": nan, "mad_mm": nan, "length_mm": 180.0},
        "left": {"hka_deg": 1.5, "mad_mm": 3.0, "length_mm": 181.0},
        "lld_mm": -1.0,
    }
    xy = [[40, 20], [190, 22], [45, 200], [160, 205], [50, 380], [150, 382]]
    pred = _prediction(xy, present, alignment)
    lines = measurement_lines(pred)
    assert lines[0] == "right: HKA –, MAD –, length 180 mm (knee_right absent)"
    assert lines[1] == "left: HKA +1.5°, MAD +3.0 mm, length 181 mm"
    assert lines[2] == "absent: knee_right" and not any("nan" in line for line in lines)
    picture = np.asarray(draw_overlay(np.full((400, 200), 255, np.uint8), pred))
    assert picture.shape == (400, 200, 3)
    # on a white picture the outlined labels leave dark pixels at the right edge's label
    assert (picture[:40, 100:] < 60).all(axis=-1).sum() > 20


def test_long_measurement_lines_wrap_inside_a_narrow_picture():
    from apn_core.inference.overlay import wrap

    line = "right: HKA -8.7°, MAD -30.3 mm, length 800 mm (knee_right absent)"
    assert wrap(line, len, 40) == [
        "right: HKA -8.7°, MAD -30.3 mm,",
        "  length 800 mm (knee_right absent)",
    ]
    assert wrap(line, len, 200) == [line]


def test_overlay_text_uses_only_characters_its_font_can_draw():
    """Found in review: "–", "×", "≤" in overlay lines were drawn as boxes."""
    from PIL import Image, ImageDraw

    from apn_core.inference.overlay import _font, drawable

    font = _font(24)

    def glyph(ch: str) -> bytes:
        im = Image.new("L", (40, 40))
        ImageDraw.Draw(im).text((5, 5), ch, fill=255, font=font)
        return im.tobytes()

    tofu = glyph("\u4e00")  # a character no Latin font has
    assert glyph("–") == tofu  # the problem this guards against
    text = drawable("right: HKA –, femur/tibia 1.6 × (plausible ≤ 1.5) → °±")
    assert text == "right: HKA -, femur/tibia 1.6 x (plausible <= 1.5) -> °±"
    assert all(glyph(ch) != tofu for ch in set(text) - {" "})


# --- labelled folders, merging, concurrent commands (issue 18.1) -------------------------


def test_a_labelled_folder_is_never_an_output_folder(tmp_path, data, labelled_folder, predict):
    """``apn predict DATA --out DATA`` replaced 6 images' hand labels with 1 prediction."""
    labelled = labelled_folder.folder
    for args in ((str(labelled), "--spacing", "1"), (str(data),)):  # itself, or another input
        code = main(["predict", *args, "--out", str(labelled), "--workers", "0"])
        assert code == 2
    err = predict.capsys.readouterr().err
    assert f"apn: error: {labelled}: is the input folder itself" in err
    assert f"apn: error: {labelled}: holds a landmarks.csv that apn predict did not write" in err
    assert f"--out {labelled}-predicted" in err
    assert labelled_folder.csv.read_bytes() == labelled_folder.original
    assert not (labelled / OUTPUT_MARKER).exists() and not (labelled / "predictions").exists()
    # a hand-made table in a folder that also holds the marker is still not an output
    out = tmp_path / "marked"
    out.mkdir()
    (out / OUTPUT_MARKER).write_text("x")
    (out / "landmarks.csv").write_text("image,landmark,x,y\na.png,knee_left,1,2\n")
    assert predict(str(data), "--out", str(out))[0] == 2


def test_a_second_command_adds_its_images_to_the_tables(tmp_path, images, predict):
    """The second command's tables held only its own images (the first's rows vanished,
    though their records stayed in predictions/)."""
    first = _place(tmp_path / "A" / "one.dcm", images[0])
    second = _place(tmp_path / "B" / "two.tif", images[2])
    out = tmp_path / "out"
    assert predict(str(first), "--out", str(out))[0] == 0
    code, text = predict(str(second), "--out", str(out))
    assert code == 0 and "(2 images, 1 from earlier commands)" in text
    assert sorted({r["image"] for r in _rows(out)}) == ["one.dcm", "two.tif"]
    assert sorted({r["image"] for r in _rows(out, "measurements.csv")}) == ["one.dcm", "two.tif"]
    code, text = predict(str(first), "--out", str(out))  # a re-run keeps both too
    assert code == 0 and text.startswith("0 predicted, 1 already done")
    assert sorted({r["image"] for r in _rows(out)}) == ["one.dcm", "two.tif"]


def test_a_second_writer_is_refused_at_once(tmp_path, data, predict):
    """Two concurrent predicts into one folder silently replaced each other's files."""
    import subprocess
    import sys

    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom apn_core.utils.locks import folder_lock\n"
            f"with folder_lock({str(out)!r}, 'output folder'):\n"
            "    print('held', flush=True)\n    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        code, text = predict(str(data), "--out", str(out))
        err = predict.err
    finally:
        holder.communicate("")
    assert code == 2 and text == ""
    assert err == (
        f"apn: error: {out}: another apn process (process {holder.pid}) is writing this output "
        "folder; wait for it to finish or stop it, then run again\n"
    )
    assert not (out / "predictions").exists()
    assert predict(str(data), "--out", str(out))[0] == 0  # free again


def test_predicted_landmarks_csv_reopens_in_mm(tmp_path, data, predict):
    from apn_core.annotations import read_landmarks_csv
    from apn_core.landmarks import DEFAULT_LANDMARKS

    out = tmp_path / "out"
    assert predict(str(data), "--out", str(out))[0] == 0
    assert {r["spacing_mm"] for r in _rows(out)} == {"2"}
    labels = read_landmarks_csv(out / "landmarks.csv", DEFAULT_LANDMARKS)
    assert {lab.spacing for lab in labels.values()} == {(2.0, 2.0)}


def test_a_png_takes_the_spacing_its_folders_landmarks_csv_gives(tmp_path, images, predict):
    """``apn predict`` ignored a folder's spacing_mm: a PNG folder failed with "pass
    --spacing MM" though its landmarks.csv said 2 mm."""
    import imageio.v3 as iio

    from apn_core.io import read_radiograph

    data = tmp_path / "data"
    data.mkdir()
    pixels = read_radiograph(images[1]).pixels
    iio.imwrite(data / "leg.png", (pixels / pixels.max() * 255).astype(np.uint8))
    table = data / "landmarks.csv"
    table.write_text("image,landmark,x,y,spacing_mm\nleg.png,knee_left,10,20,2\n")
    out = tmp_path / "out"
    code, text = predict(str(data), "--out", str(out), "--spacing", "2.5")
    assert code == 0 and text.startswith("1 predicted")
    assert "landmarks.csv gives spacing_mm 2 mm/px, which differs from --spacing 2.5" in text
    record = read_record(out, "leg.png")
    assert record["spacing"] == [2.0, 2.0] and record["spacing_from"] == "labels"
    assert {r["spacing_mm"] for r in _rows(out)} == {"2"}
    table.write_text("image,landmark,x,y,spacing_mm\nleg.png,knee_left,10,20,1.5\n")
    code, text = predict(str(data), "--out", str(out))
    assert code == 0 and "made with another spacing_mm in its folder's landmarks.csv" in text
    assert read_record(out, "leg.png")["spacing"] == [1.5, 1.5]
    code, text = predict(str(data / "leg.png"), "--out", str(tmp_path / "file"))  # a file input
    assert code == 0 and read_record(tmp_path / "file", "leg.png")["spacing"] == [1.5, 1.5]


def test_formula_like_names_are_neutralised_in_every_table(tmp_path, images, predict):
    """Cells starting with = + - @ were written verbatim into CSVs opened in spreadsheets."""
    from apn_core.annotations import read_landmarks_csv
    from apn_core.inference.report import write_report
    from apn_core.landmarks import DEFAULT_LANDMARKS

    data = tmp_path / "data"
    _place(data / "=1+1.dcm", images[0])
    out = tmp_path / "out"
    assert predict(str(data), "--out", str(out), model="default")[0] == 0
    for table in ("landmarks.csv", "measurements.csv"):
        lines = (out / table).read_text().splitlines()[1:]
        assert lines and all(line.startswith("'=1+1.dcm,") for line in lines)
    assert "-" in (out / "measurements.csv").read_text()  # negative numbers stay numbers
    assert list(read_landmarks_csv(out / "landmarks.csv", DEFAULT_LANDMARKS)) == ["=1+1.dcm"]
    write_report(tmp_path / "ev", {}, [{"image": "@x", "landmark": "+y", "error_mm": -1.5}])
    assert (tmp_path / "ev" / "errors.csv").read_text() == (
        "image,landmark,error_mm\n'@x,'+y,-1.500\n"
    )
