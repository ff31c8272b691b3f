"""The losses of the method, on known inputs."""

from __future__ import annotations

import math

import pytest
import torch

from apn_core.losses import (
    discriminator_loss,
    discriminator_targets,
    generator_adversarial_loss,
    heatmap_loss,
)

NAN = float("nan")


def test_heatmap_loss_is_zero_when_prediction_equals_target():
    target = torch.rand(2, 6, 8, 4)
    w = torch.ones(2, 6)
    assert heatmap_loss([target, target], target, w, foreground_weight=10) == 0


def test_not_annotated_landmarks_are_masked():
    target = torch.zeros(1, 3, 8, 4)
    pred = torch.zeros(1, 3, 8, 4, requires_grad=True)
    w = torch.tensor([[1.0, 1.0, 0.0]])  # landmark 2 not annotated
    with torch.no_grad():
        pred[0, 2] = 5.0  # wildly wrong, but masked
    loss = heatmap_loss([pred], target, w)
    loss.backward()
    assert loss.item() == 0.0 and pred.grad[0, 2].abs().sum() == 0
    with torch.no_grad():
        pred[0, 1] = 1.0  # an *absent* (annotated, all-zero target) landmark is supervised
    assert heatmap_loss([pred], target, w).item() == pytest.approx(
        0.5
    )  # mean over 2 annotated maps


def test_foreground_weight_counts_peak_pixels_more():
    target = torch.zeros(1, 1, 4, 4)
    target[0, 0, 1, 1] = 1.0
    pred = torch.zeros(1, 1, 4, 4)
    plain = heatmap_loss([pred], target, torch.ones(1, 1), 0.0)
    weighted = heatmap_loss([pred], target, torch.ones(1, 1), 9.0)
    assert plain.item() == pytest.approx(1 / 16) and weighted.item() == pytest.approx(10 / 16)


def test_discriminator_targets_from_known_predictions():
    true_xy = torch.tensor([[[10.0, 10.0], [10.0, 10.0], [NAN, NAN], [NAN, NAN], [10.0, 10.0]]])
    present = torch.tensor([[True, True, False, False, True]])
    pred = torch.tensor([[[13.0, 14.0], [10.0, 16.0], [0.0, 0.0], [0.0, 0.0], [10.0, 10.0]]])
    peak = torch.tensor([[0.9, 0.9, 0.1, 0.8, 0.1]])
    mm = torch.tensor([[2.0, 2.0]])  # 2 mm per input px
    got = discriminator_targets(
        pred, peak, true_xy, present, mm, tolerance_mm=10.0, presence_threshold=0.3
    )
    # 5 px = 10 mm → correct; 6 px = 12 mm → wrong; absent & low peak → correct;
    # absent but reported (high peak) → wrong; right place but peak too low (says absent) → wrong
    assert got.tolist() == [[1.0, 0.0, 1.0, 0.0, 0.0]]


def test_discriminator_loss_values():
    w = torch.ones(1, 2)
    perfect = discriminator_loss(
        torch.ones(1, 2), torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), w
    )
    assert perfect.item() == pytest.approx(0.0, abs=1e-5)
    half = discriminator_loss(
        torch.full((1, 2), 0.5), torch.full((1, 2), 0.5), torch.tensor([[1.0, 0.0]]), w
    )
    assert half.item() == pytest.approx(2 * math.log(2), rel=1e-5)
    assert generator_adversarial_loss(torch.full((1, 2), 0.5), w).item() == pytest.approx(
        math.log(2), rel=1e-5
    )
    masked = generator_adversarial_loss(torch.tensor([[1e-9, 0.5]]), torch.tensor([[0.0, 1.0]]))
    assert masked.item() == pytest.approx(math.log(2), rel=1e-5)
