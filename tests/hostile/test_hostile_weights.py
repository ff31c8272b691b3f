"""A model is trusted only after its weights file is checked against its config — before
any network is built — and its values are checked once read: a config of huge sizes beside
a one-tensor file, NaN biases, heads × 1e30, int64 or bf16 tensors are each refused with
their reason (exit 2), never "0 need review" with every landmark absent.
(Hardening round 2, issue 19.)"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from apn_core import runs
from apn_core.cli.main import main
from apn_core.errors import FileProblem
from apn_core.inference import Predictor
from apn_core.inference import predictor as predictor_module
from apn_core.models import build_networks
from apn_core.presets import get_preset
from tests.hostile import crafted


@pytest.fixture
def run(tmp_path):
    """An untrained ``tiny`` run folder with ``best`` weights (fast; values are what count)."""
    folder = tmp_path / "run"
    folder.mkdir()
    runs.save_config(folder, get_preset("tiny"))
    torch.manual_seed(0)
    runs.save_checkpoint(folder, "best", build_networks(get_preset("tiny")).state_dict())
    return folder


def _rewrite(run, change) -> None:
    weights = runs.load_weights(run, "best")
    change(weights)
    save_file(weights, str(run / "best.safetensors"))


def _head_bias(weights) -> str:
    return next(k for k in weights if k.startswith("generator.heads.") and k.endswith("bias"))


def _nan_bias(w):
    w[_head_bias(w)][:] = float("nan")


def _huge_heads(w):
    for k in [k for k in w if k.startswith("generator.heads.")]:
        w[k] = w[k] * 1e30


def _int64(w):
    k = _head_bias(w)
    w[k] = w[k].to(torch.int64)


def _bf16(w):
    for k in [k for k in w if w[k].dtype == torch.float32]:
        w[k] = w[k].to(torch.bfloat16)


@pytest.mark.parametrize(
    "change, fragment",
    [
        (_nan_bias, "untrustworthy weights: NaN or infinite values in 1 (generator.heads."),
        (_huge_heads, "untrustworthy weights: values up to"),
        (_int64, "wrong type for 1 (generator.heads."),
        (_bf16, "is BF16 in the file but F32 in the model"),
    ],
    ids=["nan-bias", "heads-x1e30", "int64", "bf16"],
)
def test_untrustworthy_weights_are_refused_with_their_reason(
    run, tmp_path, change, fragment, capsys
):
    _rewrite(run, change)
    with pytest.raises(FileProblem) as err:
        Predictor.load(run)
    assert str(err.value).startswith(str(run / "best.safetensors")) and fragment in str(err.value)
    image = tmp_path / "x.dcm"
    from apn_core.io import write_dicom

    write_dicom(image, crafted.small_image(64, 32), (2.0, 2.0))
    code = main(["predict", str(image), "--model", str(run), "--out", str(tmp_path / "o")])
    assert code == 2 and fragment in capsys.readouterr().err


def test_a_huge_config_beside_a_small_weights_file_is_refused_before_building(
    tmp_path, monkeypatch
):
    """Sizes a config allows, but no weights to fill them: the networks (0.8 GB here,
    11 GB at every maximum) were built before the mismatch was noticed. Now nothing is
    built (``benchmarks/hostile_limits.py`` measures the command: ~260 MB, the import of
    torch)."""
    run = tmp_path / "run"
    run.mkdir()
    config = get_preset("tiny").to_dict()
    config["generator"].update(stacks=4, channels=1024, depth=4)
    (run / "config.json").write_text(json.dumps(config))
    save_file({"generator.stem.0.weight": torch.zeros(1)}, str(run / "best.safetensors"))

    def never(*args, **kwargs):
        raise AssertionError("a network was built before the weights were checked")

    monkeypatch.setattr(predictor_module, "build_networks", never)
    with pytest.raises(FileProblem) as err:
        Predictor.load(run)
    assert "weights do not match the model in its config.json: missing" in str(err.value)
    assert "generator.stem.0.weight is (1,) in the file but (256, 1, 7, 7)" in str(err.value)


def test_the_bundled_model_passes_the_checks():
    assert Predictor.load("default").config.generator.stacks >= 1
