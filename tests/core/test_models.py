"""Shapes and sizes of the three networks for each preset."""

from __future__ import annotations

import pytest
import torch

from apn_core.models import build_networks
from apn_core.presets import PRESETS, get_preset


@pytest.mark.parametrize("name", ["tiny", "default", "seed"])
def test_output_shapes(name):
    cfg = get_preset(name)
    nets = build_networks(cfg)
    g = cfg.geometry
    x = torch.rand(2, 1, g.height, g.width)
    nets.generator.eval()
    with torch.no_grad():
        outputs = nets.generator(x)
        assert len(outputs) == cfg.generator.stacks  # intermediate supervision: one per stack
        for out in outputs:
            assert out.shape == (2, 6, g.height // g.stride, g.width // g.stride)
        p, c = nets.pose(outputs[-1], x), nets.confidence(outputs[-1])
    assert p.shape == c.shape == (2, 6)
    assert ((p > 0) & (p < 1)).all() and ((c > 0) & (c < 1)).all()


def test_preset_geometry_and_size():
    seed, default = get_preset("seed"), get_preset("default")
    assert (seed.geometry.height, seed.geometry.width, seed.geometry.heatmap_shape) == (
        256,
        256,
        (64, 64),
    )
    assert (seed.generator.stacks, seed.generator.channels, seed.decoding) == (8, 256, "argmax")
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    n_seed = count(build_networks(seed).generator)
    n_default = count(build_networks(default).generator)
    assert 20e6 < n_seed < 30e6  # the reference stacked hourglass is ~25 M parameters
    assert n_default < n_seed / 20
    assert default.geometry.height / default.geometry.width == pytest.approx(2.67, abs=0.05)


def test_presets_are_independent_copies():
    a = get_preset("default")
    a.train.lr = 123.0
    assert PRESETS["default"].train.lr != 123.0
    with pytest.raises(KeyError, match="known"):
        get_preset("huge")


def test_weights_round_trip_by_name():
    cfg = get_preset("tiny")
    a, b = build_networks(cfg), build_networks(cfg)
    b.load_state_dict(a.state_dict(), strict=True)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    assert {k.split(".")[0] for k in a.state_dict()} == {"generator", "pose", "confidence"}


def test_networks_are_one_module_dict_loaded_strictly():
    from torch import nn

    from apn_core.errors import FileProblem
    from apn_core.models import NETWORKS, load_networks, weights_of

    cfg = get_preset("tiny")
    nets = build_networks(cfg)
    assert isinstance(nets, nn.ModuleDict) and tuple(nets) == NETWORKS
    weights = weights_of(nets)
    assert set(weights) == set(nets.state_dict())
    other = build_networks(cfg)
    assert load_networks(other, weights, "w.safetensors") == []
    without_pose = {k: v for k, v in weights.items() if not k.startswith("pose.")}
    with pytest.raises(FileProblem, match=r"w\.safetensors: .*missing \d+ \(pose\."):
        load_networks(other, without_pose, "w.safetensors")  # training needs every network
    assert load_networks(other, without_pose, "w.safetensors", ("pose",)) == ["pose"]
