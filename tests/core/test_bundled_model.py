"""The bundled default model: loads safely, reaches its documented accuracy on a fresh
synthetic set, is consistent on mirrored images, and runs the README's main job."""

from __future__ import annotations

import numpy as np
import pytest

from apn_core.cli.main import main
from apn_core.dataset import load_labelled_folder
from apn_core.inference import Predictor
from apn_core.inference.batch import predict_files
from apn_core.inference.evaluate import evaluate
from apn_core.inference.model_store import BUNDLED, BUNDLED_DIR, BUNDLED_WEIGHTS, resolve
from apn_core.presets import get_preset
from apn_core.synth import SynthConfig, write_synthetic_folder

# The README's numbers are from 200 images; these bounds leave room for a small test set.
MAX_MRE_MM = 1.5
MIN_PCK10 = 0.97


@pytest.fixture(scope="module")
def fresh_set(tmp_path_factory):
    cfg = SynthConfig(spacing_mm=0.5, hip_prosthesis_fraction=0.25, knee_prosthesis_fraction=0.25)
    return write_synthetic_folder(
        tmp_path_factory.mktemp("fresh") / "data", 8, seed=424242, config=cfg
    )


def test_bundled_model_is_registered_with_a_checksum():
    folder, digest = BUNDLED["default"]
    assert digest is not None and len(digest) == 64
    source = resolve("default")  # verifies the checksum
    assert source.weights == BUNDLED_DIR / folder / BUNDLED_WEIGHTS
    assert source.weights.stat().st_size < 5e6  # small enough to ship
    assert source.config.preset in ("default", "finetune")  # finetune: from the default
    default = get_preset("default")
    assert (source.config.generator, source.config.discriminator) == (
        default.generator,
        default.discriminator,
    )  # the default architecture, whatever input size it was trained at


def test_bundled_model_reaches_documented_accuracy(fresh_set):
    folder = load_labelled_folder(fresh_set)
    predictor = Predictor.load("default")
    results = list(predict_files(predictor, [i.path for i in folder.items]))
    predicted = {
        item.labels.image: r.prediction.xy for item, r in zip(folder.items, results, strict=True)
    }
    metrics, _ = evaluate(folder, predicted)
    assert metrics["all"]["n"] >= 40
    assert metrics["all"]["mre"] <= MAX_MRE_MM, metrics["all"]
    assert metrics["all"]["pck@10"] >= MIN_PCK10, metrics["all"]
    assert metrics["counts"]["present_reported_absent"] <= 1


HELD_OUT_FAMILY = (
    "cr-film"  # never in the bundled model's training data (README, "The bundled model")
)


def test_bundled_model_holds_up_on_the_family_it_never_saw(tmp_path_factory):
    """The held-out-family protocol on a small scale: the README's figures come from 120 images."""
    data = write_synthetic_folder(
        tmp_path_factory.mktemp("heldout") / "data",
        8,
        seed=515151,
        config=SynthConfig(spacing_mm=0.5, families=(HELD_OUT_FAMILY,)),
    )
    folder = load_labelled_folder(data)
    predictor = Predictor.load("default")
    results = list(predict_files(predictor, [i.path for i in folder.items]))
    predicted = {
        item.labels.image: r.prediction.xy for item, r in zip(folder.items, results, strict=True)
    }
    metrics, _ = evaluate(folder, predicted)
    assert metrics["all"]["n"] >= 40
    assert metrics["all"]["mre"] <= 2.0, metrics["all"]
    assert metrics["all"]["pck@10"] >= MIN_PCK10, metrics["all"]


def test_mirrored_radiograph_gives_mirrored_landmarks(fresh_set):
    from apn_core.io import read_radiograph

    predictor = Predictor.load("default", flip_test=False)  # the network itself, no averaging
    path = sorted(fresh_set.glob("*.dcm"))[0]
    r = read_radiograph(path)
    a = predictor.predict(r.pixels, r.spacing)
    b = predictor.predict(r.pixels[:, ::-1].copy(), r.spacing)
    perm = predictor.config.landmarks.flip_permutation()
    mirrored = a.xy[perm].copy()
    mirrored[:, 0] = (r.pixels.shape[1] - 1) - mirrored[:, 0]
    both = a.present[perm] & b.present
    assert both.sum() >= 4
    err_mm = np.hypot(*((b.xy[both] - mirrored[both]) * 0.5).T)
    assert err_mm.max() < 5.0, err_mm


def test_demo_main_job(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "bundled:default" in out and "HKA" in out
    for name in ("landmarks.csv", "measurements.csv", "overlays/synth_2024_0000.dcm.png"):
        assert (tmp_path / "demo" / name).exists()
    rows = [
        line.split() for line in out.splitlines() if line.endswith(" mm") and "error" not in line
    ]
    errors = [float(r[-2]) for r in rows if r[0].startswith(("femur", "knee", "ankle"))]
    assert len(errors) == 6 and max(errors) < 5.0
