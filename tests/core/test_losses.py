"""The losses of the method and the one scoring function, on known inputs."""

from __future__ import annotations

import math

import numpy as np
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


# ----- scoring (apn_core.metrics.score): one definition for validation and evaluation ----
NAMES = ("a", "b", "c")


def _case():
    """Two images, three landmarks. Image 0 at 1 mm/px, image 1 at 2 mm/px (row, col)."""
    truth = np.array(
        [[[10, 10], [20, 20], [NAN, NAN]], [[10, 10], [30, 30], [40, 40]]], dtype=float
    )
    present = np.isfinite(truth).all(-1)
    absent = np.array([[False, False, True], [False, False, False]])
    pred = np.array(
        [
            [[13, 14], [NAN, NAN], [5, 5]],  # 5 mm; reported absent; false alarm
            [[10, 10], [30, 36], [40, 40]],  # 0 mm; 12 mm (6 px × 2 mm); 0 mm
        ],
        dtype=float,
    )
    spacing = np.array([[1.0, 1.0], [2.0, 2.0]])
    occluded = np.array([[True, False, False], [False, True, False]])
    return pred, truth, present, absent, spacing, occluded


def test_score_counts_only_landmarks_present_and_reported():
    from apn_core.metrics import score

    pred, truth, present, absent, spacing, occluded = _case()
    m = score(pred, truth, present, absent, spacing, NAMES, (10.0, 20.0), occluded, 10.0)
    errors = [5.0, 0.0, 12.0, 0.0]
    assert m["all"]["n"] == 4
    assert m["all"]["mre"] == pytest.approx(np.mean(errors))
    assert m["all"]["sd"] == pytest.approx(np.std(errors))
    assert m["all"]["median"] == pytest.approx(2.5)
    assert m["all"]["pck@10"] == pytest.approx(0.75) and m["all"]["pck@20"] == 1.0
    counts = {
        k: m["all"][k]
        for k in ("present", "present_reported_absent", "absent", "absent_reported_present")
    }
    assert counts == {
        "present": 5,
        "present_reported_absent": 1,
        "absent": 1,
        "absent_reported_present": 1,
    }
    # correct: 3 present within 10 mm of 6 annotated (the absent one was reported present)
    assert m["all"]["correct"] == pytest.approx(3 / 6)
    expected_b = {"n": 1, "mre": 12.0, "sd": 0.0, "median": 12.0, "pck@10": 0.0, "pck@20": 1.0}
    expected_b |= {"present": 2, "present_reported_absent": 1, "absent": 0}
    expected_b |= {"absent_reported_present": 0, "correct": 0.0}
    assert m["b"] == expected_b
    assert m["c"]["absent_reported_present"] == 1 and m["c"]["n"] == 1
    assert m["occluded"]["n"] == 2 and m["occluded"]["mre"] == pytest.approx(8.5)


def test_score_without_any_reported_landmark_has_counts_but_no_error():
    from apn_core.metrics import score

    pred, truth, present, absent, spacing, _ = _case()
    m = score(np.full_like(pred, np.nan), truth, present, absent, spacing, NAMES)
    assert m["all"]["n"] == 0 and "mre" not in m["all"]
    assert m["all"]["present_reported_absent"] == 5 and m["all"]["correct"] == pytest.approx(1 / 6)


def test_training_validation_and_evaluate_give_one_number(tmp_path):
    """Validation counted a landmark reported absent at wherever its heatmap peaked, while
    ``apn evaluate`` dropped it: two numbers called MRE. Both now call ``score``."""
    from apn_core.annotations import ImageLabels
    from apn_core.dataset import LabelledFolder, LabelledImage
    from apn_core.inference.evaluate import evaluate
    from apn_core.landmarks import LandmarkSet
    from apn_core.train.data import TrainingTensors
    from apn_core.train.validate import validation_metrics

    pred, truth, present, absent, spacing, occluded = _case()
    landmarks = LandmarkSet(NAMES)
    labels = [
        ImageLabels(f"img{i}.png", truth[i], present[i] | absent[i], occluded[i]) for i in range(2)
    ]
    folder = LabelledFolder(tmp_path, landmarks)
    folder.items = [
        LabelledImage(tmp_path / lab.image, lab, (64, 64), tuple(spacing[i]), "given")
        for i, lab in enumerate(labels)
    ]
    reported = {lab.image: pred[i] for i, lab in enumerate(labels)}
    evaluated, _ = evaluate(folder, reported)
    # validation: the same positions decoded from heatmaps; "absent" = a peak below threshold
    xy = torch.tensor(np.nan_to_num(pred, nan=1.0), dtype=torch.float32)  # a peak somewhere
    peak = torch.tensor(np.where(np.isfinite(pred).all(-1), 0.9, 0.1), dtype=torch.float32)
    tensors = TrainingTensors(
        images=torch.zeros(2, 1, 4, 4),
        xy=torch.tensor(truth, dtype=torch.float32),
        annotated=torch.tensor(present | absent),
        present=torch.tensor(present),
        occluded=torch.tensor(occluded),
        mm_per_px=torch.tensor(spacing, dtype=torch.float32),
        names=[lab.image for lab in labels],
    )
    validated = validation_metrics(xy, peak, tensors, NAMES, presence_threshold=0.3)
    for group in ("all", *NAMES, "occluded"):
        assert validated[group].keys() == evaluated[group].keys()
        for key, value in evaluated[group].items():
            assert validated[group][key] == pytest.approx(value, abs=1e-4), (group, key)
    assert evaluated["counts"]["present_reported_absent"] == 1
