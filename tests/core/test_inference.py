"""Predictor mapping (oracle heatmaps), absent handling, batch robustness, CLI outputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

from apn_core.cli.main import main
from apn_core.geometry import Letterbox
from apn_core.heatmaps import render_targets
from apn_core.inference import Predictor
from apn_core.inference.batch import predict_files
from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.presets import get_preset


class Oracle(nn.Module):
    """Gaussian heatmaps at fixed input-pixel positions, whatever the image."""

    def __init__(self, xy_in: np.ndarray, cfg) -> None:
        super().__init__()
        self.xy = torch.tensor(xy_in, dtype=torch.float32)[None]
        self.cfg = cfg

    def forward(self, x):
        g = self.cfg.geometry
        return [
            render_targets(
                self.xy.expand(len(x), -1, -1), g.heatmap_shape, g.stride, self.cfg.loss.sigma
            )
        ]


class Sure(nn.Module):
    def forward(self, heatmaps):
        return torch.full(heatmaps.shape[:2], 0.81)


def oracle_predictor(
    truth: np.ndarray, shape: tuple[int, int], preset: str = "default"
) -> Predictor:
    p = Predictor.from_preset(preset)
    box = Letterbox.fit(shape, p.config.geometry)
    p.generator, p.confidence_net = Oracle(box.to_input(truth), p.config), Sure()
    return p


@pytest.mark.parametrize("shape", [(7300, 2800), (2000, 760), (300, 1000), (512, 192)])
def test_predictions_map_back_to_image_pixels(shape):
    rows, cols = shape
    rng = np.random.default_rng(rows)
    truth = rng.uniform([0.1 * cols, 0.1 * rows], [0.9 * cols, 0.9 * rows], size=(6, 2))
    truth[0::2, 0] = rng.uniform(0.05 * cols, 0.4 * cols, 3)  # right legs left, left legs right,
    truth[1::2, 0] = rng.uniform(0.6 * cols, 0.95 * cols, 3)  # so mirror pairs never coincide
    spacing = 1000.0 / rows  # every test image spans ~1 m, like a long-leg radiograph
    p = oracle_predictor(truth, shape)
    # the oracle ignores pixels; any non-blank image will do (a blank one is refused)
    image = np.arange(rows * cols, dtype=np.float32).reshape(shape)
    result = p.predict(image, spacing=spacing)
    px_per_hm = p.config.geometry.stride / min(Letterbox.fit(shape, p.config.geometry).sx, 1e9)
    np.testing.assert_allclose(result.xy, truth, atol=0.05 * px_per_hm)
    np.testing.assert_allclose(result.xy_mm, truth * spacing, atol=0.05 * px_per_hm * spacing)
    peaks = result.heatmaps.reshape(6, -1).max(axis=1)
    assert result.present.all()
    np.testing.assert_allclose(
        result.confidence, np.sqrt(peaks * 0.81), rtol=1e-5
    )  # the documented formula
    # heatmap overlay geometry: argmax pixel of each map lands within one heatmap pixel of the truth
    for k in range(6):
        v, u = np.unravel_index(result.heatmaps[k].argmax(), result.heatmaps[k].shape)
        at = np.array([v, u]) * result.heatmap_scale + result.heatmap_translate
        assert np.abs(at - truth[k, ::-1]).max() <= max(result.heatmap_scale) * 0.51
    assert result.heatmaps.shape == (6, *p.config.geometry.heatmap_shape)  # no full-size copies


def test_absent_and_coinciding_landmarks_are_reported_absent():
    shape = (2000, 760)
    truth = np.array(
        [[200, 300], [560, 300], [210, 1190], [213, 1192], [250, 1900], [np.nan, np.nan]]
    )
    image = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape)  # not blank
    result = oracle_predictor(truth, shape).predict(image, spacing=0.5)
    assert result.present.tolist() in (
        [True, True, True, False, True, False],
        [True, True, False, True, True, False],
    )
    assert np.isnan(result.xy[~result.present]).all()
    assert result.confidence[5] < 0.1
    rows = result.as_rows()
    assert rows[5]["x"] is None and rows[5]["present"] is False
    assert result.alignment["left"]["hka_deg"] is None  # never NaN: empty, with the reason
    assert "ankle_left absent" in result.alignment_notes["left.hka_deg"]


def test_a_too_small_spacing_does_not_delete_real_landmarks():
    """Found in review: knees 90 mm apart at a spacing read 3.5× too small (26 mm) were
    "coinciding", one was reported absent and the scale check lost its leg."""
    shape = (2000, 760)
    truth = np.array([[200, 300], [560, 300], [300, 1190], [480, 1190], [250, 1900], [510, 1900]])
    image = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape)
    result = oracle_predictor(truth, shape).predict(image, spacing=0.5 / 3.5)
    assert result.present.all()
    assert any("pixel spacing" in r for r in result.review["image_reasons"])


def test_untrained_presets_predict_on_any_size():
    for preset in ("tiny", "default"):
        r = Predictor.from_preset(preset).predict(np.random.rand(900, 350).astype(np.float32))
        assert r.xy.shape == (6, 2) and r.spacing is None and np.isnan(r.xy_mm).all()
    with pytest.raises(ValueError, match="2-D"):
        Predictor.from_preset("tiny").predict(np.zeros((3, 4, 5)))


@pytest.fixture
def small_run(tiny_run):
    """The session's tiny trained run (read only) and its three images."""
    return tiny_run


def test_batch_prediction_survives_a_corrupt_file(small_run, tmp_path):
    data, run = small_run
    good = sorted(p for p in data.iterdir() if p.suffix in (".dcm", ".tif"))
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(good[0].read_bytes()[:2000])
    paths = [good[0], bad, *good[1:]]
    results = list(predict_files(Predictor.load(run), paths, batch_size=2))
    assert [r.path for r in results] == paths
    assert results[1].prediction is None and "bad.dcm" in results[1].error
    assert all(r.prediction is not None for i, r in enumerate(results) if i != 1)


def test_apn_predict_outputs_and_rerun(small_run, tmp_path, capsys):
    """Runs in every clone; the markups are also validated against the official Slicer
    schema where ../shared is beside the checkout (CI)."""
    from tests.conftest import SHARED

    data, run = small_run
    (data / "notes.txt").write_text("not an image")
    (tmp_path / "corrupt.tif").write_bytes(b"II*\x00garbage")
    out = tmp_path / "out"
    assert (
        main(
            [
                "predict",
                str(data),
                str(tmp_path / "corrupt.tif"),
                "--model",
                str(run),
                "--out",
                str(out),
                "--overlays",
            ]
        )
        == 1  # some inputs failed
    )
    text = capsys.readouterr().out
    assert "3 predicted" in text and "1 failed" in text and "corrupt.tif" in text
    with open(out / "landmarks.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "image",
        "landmark",
        "x",
        "y",
        "x_mm",
        "y_mm",
        "confidence",
        "present",
        "needs_review",
        "review_reason",
        "spacing_mm",
        "spacing_source",
    ]
    assert len(rows) == 18
    for r in rows:
        assert (r["present"] == "1") == (r["x"] != "")
        if r["x"]:
            assert float(r["x_mm"]) == pytest.approx(float(r["x"]) * 2.0, abs=2e-3)
    markups = sorted(out.rglob("*.mrk.json"))
    assert len(markups) == 3
    schemas = sorted((SHARED / "formats").glob("slicer-markups-schema*.json"))
    for m in markups:
        doc = json.loads(m.read_text())
        (markup,) = doc["markups"]
        assert markup["type"] == "Fiducial" and markup["coordinateUnits"] == "mm"
        assert {p["label"] for p in markup["controlPoints"]} <= set(DEFAULT_LANDMARKS.names)
        if schemas:
            import jsonschema

            jsonschema.validate(doc, json.loads(schemas[0].read_text()))
    assert len(list((out / "overlays").rglob("*.png"))) == 3
    with open(out / "measurements.csv") as fh:
        assert {r["side"] for r in csv.DictReader(fh)} == {"right", "left"}
    argv = ["predict", str(data), str(tmp_path / "corrupt.tif"), "--model", str(run), "--out"]
    assert main([*argv, str(out), "--overlays"]) == 1
    assert "0 predicted, 3 already done, 1 failed" in capsys.readouterr().out


def test_apn_evaluate_writes_report(small_run, tmp_path, capsys):
    data, run = small_run
    assert main(["evaluate", str(data), "--model", str(run), "--out", str(tmp_path / "ev")]) == 0
    text = capsys.readouterr().out
    assert "PCK@10" in text and "absent landmarks reported present" in text
    report = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert {"all", "femur_right", "counts"} <= set(report)
    assert report["counts"]["images"] == 3
    assert (tmp_path / "ev" / "error_cdf.png").stat().st_size > 1000


def test_flip_averaging_makes_predictions_exactly_mirror_equivariant():
    """H(flip(I)) = swap(flip(H(I))) by construction, so even an untrained network's
    decoded positions on a mirrored image are the mirrored, left/right-swapped ones."""
    torch.manual_seed(0)
    cfg = get_preset("tiny")
    p = Predictor(cfg, None, flip_test=True)
    rows, cols = 1024, 384  # fills the 256×96 letterbox exactly: no padding asymmetry
    image = np.random.default_rng(1).random((rows, cols)).astype(np.float32)
    (ta, _), (tb, _) = p.prepare(image), p.prepare(image[:, ::-1].copy())
    a, b = p.forward(ta[None]), p.forward(tb[None])
    xy_a, peak_a, xy_b, peak_b = a.xy, a.peak, b.xy, b.peak
    perm = cfg.landmarks.flip_permutation()
    mirrored = xy_a[0, perm].clone()
    mirrored[:, 0] = (cfg.geometry.width - 1) - mirrored[:, 0]
    torch.testing.assert_close(xy_b[0], mirrored, atol=1e-3, rtol=0)
    torch.testing.assert_close(peak_b[0], peak_a[0, perm], atol=1e-6, rtol=0)
    assert peak_a.std() > 0 and (xy_a[0, :, 0] != xy_a[0, 0, 0]).any()  # not a degenerate output
    plain = Predictor(cfg, None, flip_test=False)
    plain.generator.load_state_dict(p.generator.state_dict())
    xy_plain = plain.forward(tb[None]).xy
    assert not torch.allclose(
        xy_plain[0], mirrored, atol=1e-3
    )  # without averaging it is not equivariant


def test_inference_does_not_import_training():
    """Inference reads run folders through apn_core.runs, never through apn_core.train."""
    import subprocess
    import sys

    code = "import sys, apn_core.inference.batch, apn_core.inference.evaluate; "
    code += "print(sorted(m for m in sys.modules if m.startswith('apn_core.train')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_flip_test_in_one_batch_equals_two_passes():
    """forward runs the image and its mirror as one batch of two (faster on 2 threads):
    the averaged heatmaps are those of two separate passes, flipped back and swapped."""
    p = Predictor.from_preset("tiny")
    p.flip_test = True
    x = torch.rand(3, 1, p.config.geometry.height, p.config.geometry.width)
    out = p.forward(x)
    with torch.no_grad():
        xc = x.contiguous(memory_format=torch.channels_last)
        plain = p.generator(xc)[-1]
        mirrored = p.generator(xc.flip(-1))[-1].flip(-1)
        mirrored = mirrored[:, p.config.landmarks.flip_permutation()]
    torch.testing.assert_close(out.plain, plain, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.flipped, mirrored, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.heatmaps, 0.5 * (plain + mirrored), atol=1e-5, rtol=1e-4)


def test_a_one_leg_film_of_any_width_does_not_keep_an_invented_second_leg():
    """Issue 20: the pair rule was sized by the image width and never fired on a 128-px
    one-leg film; it is sized by the leg's own length now."""
    shape = (1024, 128)
    right = np.array([[60, 290], [81, 623], [96, 906]], dtype=float)
    truth = np.full((6, 2), np.nan)
    truth[0::2] = right
    # an invented left leg 10 px (13 mm) beside the right one
    truth[1::2] = right + np.array([9, 4])
    image = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape)
    for spacing in (None, 1.32):
        result = oracle_predictor(truth, shape).predict(image, spacing=spacing)
        pairs = result.present.reshape(3, 2)
        assert (pairs.sum(axis=1) == 1).all(), (spacing, result.present)
