"""Hostile or mismatched model files: refused with one clear error, never half-loaded,
never random weights, never code executed."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from apn_core import runs
from apn_core.cli.main import main
from apn_core.errors import FileProblem
from apn_core.inference import Predictor, model_store
from apn_core.presets import get_preset


@pytest.fixture
def run(tiny_run, tmp_path):
    """A writable copy of the session's tiny run (config + best + last)."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_run[1], copy, ignore=shutil.ignore_patterns("cache"))
    return copy


def _best(run):
    return runs.load_weights(run, "best")


def _replace_best(run, weights):
    (run / "last.safetensors").unlink()
    save_file(weights, str(run / "best.safetensors"))


def _predict(predictor):
    image = np.random.default_rng(0).random((600, 230)).astype(np.float32)
    return predictor.predict(image, spacing=2.0)


def test_ddp_module_prefix_is_stripped_knowingly(run):
    weights = _best(run)
    reference = _predict(Predictor.load(run))
    _replace_best(run, {f"module.{k}": v for k, v in weights.items()})
    np.testing.assert_array_equal(_predict(Predictor.load(run)).xy, reference.xy)
    net_then_module = {k.replace(".", ".module.", 1): v for k, v in weights.items()}
    save_file(net_then_module, str(run / "best.safetensors"))
    np.testing.assert_array_equal(_predict(Predictor.load(run)).xy, reference.xy)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda w, p: p.write_bytes(b""),
            r"not a readable safetensors weights file \(empty file\)",
        ),
        (lambda w, p: p.write_bytes(b"\x00" * 64), "not a readable safetensors weights file"),
        (lambda w, p: save_file({}, str(p)), "weights do not match .* holds no weights"),
        (
            lambda w, p: save_file(
                {k: v for k, v in w.items() if not k.startswith("generator.")}, str(p)
            ),
            r"missing \d+ \(generator\.",
        ),
        (
            lambda w, p: save_file(
                {k: v for k, v in w.items() if k.startswith("generator.")}, str(p)
            ),
            r"missing \d+ \(confidence\.",
        ),
        (
            lambda w, p: save_file({**w, "generator.extra.weight": torch.zeros(2)}, str(p)),
            r"unexpected 1 \(generator\.extra\.weight\)",
        ),
        (
            lambda w, p: save_file(
                {**w, "generator.heads.0.weight": torch.zeros(3, 32, 1, 1)}, str(p)
            ),
            r"wrong shape for 1 .*generator\.heads\.0\.weight is \(3, 32, 1, 1\) in the file but \(6, 32, 1, 1\)",
        ),
        (  # the pose discriminator may be left out only as a whole
            lambda w, p: save_file({k: v for k, v in w.items() if "pose.net.0" not in k}, str(p)),
            r"missing 1 \(pose\.net\.0\.weight\)",
        ),
    ],
    ids=[
        "empty file",
        "garbage",
        "no tensors",
        "discriminators only",
        "no confidence",
        "extra key",
        "wrong shape",
        "half a pose net",
    ],
)
def test_mismatched_weights_are_refused_naming_file_and_keys(run, make, message):
    weights = _best(run)
    (run / "last.safetensors").unlink()
    make(weights, run / "best.safetensors")
    with pytest.raises(FileProblem, match=message) as err:
        Predictor.load(run)
    assert str(err.value).startswith(str(run / "best.safetensors"))


def test_an_unrelated_model_in_a_run_folder_is_refused_by_the_cli(run, tiny_run, tmp_path, capsys):
    """Before: the bundled (default-size) weights in a tiny run loaded "leniently" and the
    run predicted from random weights, exit 0."""
    (run / "last.safetensors").unlink()
    shutil.copy(model_store.BUNDLED_DIR / "default" / "model.safetensors", run / "best.safetensors")
    data = tiny_run[0]
    code = main(
        [
            "predict",
            str(sorted(data.glob("*.dcm"))[0]),
            "--model",
            str(run),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"apn: error: {run / 'best.safetensors'}: weights do not match the model")
    assert "wrong shape" in err and "Traceback" not in err


def test_inference_bundle_without_pose_discriminator_loads(run):
    weights = {k: v for k, v in _best(run).items() if not k.startswith("pose.")}
    reference = _predict(Predictor.load(run))
    _replace_best(run, weights)
    np.testing.assert_array_equal(_predict(Predictor.load(run)).xy, reference.xy)


def test_a_pickle_named_safetensors_never_runs(run, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (run / "last.safetensors").unlink()
    (run / "best.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(FileProblem, match="not a readable safetensors"):
        Predictor.load(run)
    assert not marker.exists()


def test_truncated_weights_are_refused(run):
    data = (run / "best.safetensors").read_bytes()
    (run / "last.safetensors").unlink()
    (run / "best.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileProblem, match="not a readable safetensors weights file"):
        Predictor.load(run)


def test_a_damaged_bundled_model_is_reported(tmp_path, monkeypatch):
    shutil.copytree(model_store.BUNDLED_DIR / "default", tmp_path / "default")
    weights = tmp_path / "default" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(model_store, "BUNDLED_DIR", tmp_path)
    with pytest.raises(FileProblem, match="damaged \\(checksum mismatch\\)"):
        Predictor.load("default")


def test_a_hostile_config_is_refused_before_any_network_is_built(run):
    config = json.loads((run / "config.json").read_text())
    config["generator"]["channels"] = 10**7  # would allocate terabytes
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        FileProblem, match=r"config\.json: invalid configuration: generator\.channels"
    ):
        Predictor.load(run)


def test_a_run_folder_without_weights_is_a_clear_error(run):
    for name in ("best.safetensors", "last.safetensors"):
        (run / name).unlink()
    with pytest.raises(FileProblem, match="no best or last weights in the run folder"):
        Predictor.load(run)


def test_a_checkpoint_with_a_damaged_state_record_is_refused(run):
    from safetensors import safe_open

    with safe_open(str(run / "last.safetensors"), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    meta["state"] = json.dumps({"d": [["loop", {"x": "state/9999"}]]})
    save_file(tensors, str(run / "last.safetensors"), metadata=meta)
    with pytest.raises(FileProblem, match="damaged training state"):
        runs.load_state(run)


def test_untrained_networks_never_pass_for_a_model():
    """A Predictor without weights is only made on purpose (from_preset), and says so."""
    assert Predictor.from_preset("tiny").name == "untrained:tiny"
    assert get_preset("tiny").init is None
