"""Per-landmark features on hand-made heatmaps: peak, second candidate, spread, flip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from apn_core.geometry import Letterbox
from apn_core.heatmaps import heatmap_to_input
from apn_core.inference import Predictor
from apn_core.inference.confidence import FEATURES, heatmap_to_image_xy, landmark_features

H, W = 128, 48


def gaussian(u: float, v: float, sigma: float = 1.5, height: float = 1.0) -> torch.Tensor:
    """``(h, w)`` Gaussian of ``height`` centred on heatmap (u=col, v=row)."""
    rows = torch.arange(H, dtype=torch.float32)[:, None]
    cols = torch.arange(W, dtype=torch.float32)[None, :]
    return height * torch.exp(-((cols - u) ** 2 + (rows - v) ** 2) / (2 * sigma**2))


def expected_spread(sigma: float, floor: float = 0.1) -> float:
    """RMS radius of a 2-D Gaussian counted above ``floor`` × peak (weights g − floor):
    with s = r²/2σ² and S = ln(1/floor), E[r²] = 2σ² · A / B, A = ∫₀^S (e^−s − floor) s ds,
    B = ∫₀^S (e^−s − floor) ds."""
    s = math.log(1 / floor)
    a = 1 - math.exp(-s) * (1 + s) - floor * s**2 / 2
    b = 1 - math.exp(-s) - floor * s
    return sigma * math.sqrt(2 * a / b)


def test_single_gaussian_has_known_peak_spread_and_no_second_candidate():
    hm = torch.stack([gaussian(20, 60, sigma=2.0), gaussian(30, 90, sigma=3.0)])
    f = landmark_features(hm, (2.5, 2.5), c=[0.9, 0.4])
    assert f.peak.shape == (1, 2)
    np.testing.assert_allclose(f.peak[0], [1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(
        f.spread_mm[0], [2.5 * expected_spread(2.0), 2.5 * expected_spread(3.0)], rtol=0.02
    )
    np.testing.assert_array_equal(f.second_ratio[0], [0.0, 0.0])
    assert np.isnan(f.second_uv).all()
    np.testing.assert_allclose(f.c[0], [0.9, 0.4], atol=1e-6)
    assert np.isnan(f.p).all() and np.isnan(f.flip_mm).all()  # no pose net, no flipped pass


def test_second_blob_is_found_with_its_height_ratio_and_position():
    hm = (gaussian(10, 30) + gaussian(35, 100, height=0.6))[None]
    f = landmark_features(hm, (4.0, 4.0))
    assert f.second_ratio[0, 0] == pytest.approx(0.6, abs=1e-3)
    np.testing.assert_array_equal(f.second_uv[0, 0], [35, 100])
    # the spread sees both structures: far wider than one blob's
    assert f.spread_mm[0, 0] > 10 * 4.0 * expected_spread(1.5)
    # a candidate closer than the separation is the same structure
    near = landmark_features(hm, (4.0, 4.0), min_separation_mm=4.0 * 80)
    assert near.second_ratio[0, 0] == 0.0 and np.isnan(near.second_uv[0, 0]).all()


def test_flip_disagreement_in_mm_with_anisotropic_pixels():
    plain = gaussian(20, 50)[None]
    flipped = gaussian(23, 54)[None]
    f = landmark_features(plain, (2.0, 3.0), flipped=flipped)  # (row_mm, col_mm)
    assert f.flip_mm[0, 0] == pytest.approx(math.hypot(3 * 3.0, 4 * 2.0), abs=1e-4)
    same = landmark_features(plain, (2.0, 3.0), flipped=plain)
    assert same.flip_mm[0, 0] == pytest.approx(0.0, abs=1e-6)


def test_batch_matches_single_images_and_tables_line_up():
    rng = np.random.default_rng(0)
    a = torch.stack([gaussian(*rng.uniform([5, 10], [40, 120])) for _ in range(6)])
    b = torch.stack([gaussian(*rng.uniform([5, 10], [40, 120])) for _ in range(6)])
    batch = torch.stack([a, b])
    mm = np.array([[2.0, 2.0], [3.0, 2.5]])
    p = torch.rand(2, 6)
    f = landmark_features(batch, mm, flipped=batch.flip(0), p=p)
    one = landmark_features(b, mm[1], flipped=a, p=p[1])
    for name in FEATURES:
        np.testing.assert_allclose(
            getattr(f, name)[1], getattr(one, name)[0], rtol=1e-6, equal_nan=True
        )
    assert f.table().shape == (12, len(FEATURES))
    np.testing.assert_allclose(f.table()[6:, FEATURES.index("p")], p[1].numpy(), rtol=1e-6)
    np.testing.assert_allclose(f.image_peak[0], np.median(f.peak[0]))
    assert set(f.as_dict(tuple("abcdef"), 1)["a"]) >= set(FEATURES)


def test_without_spacing_mm_features_are_missing():
    hm = (gaussian(10, 30) + gaussian(35, 100, height=0.5))[None]
    f = landmark_features(hm, None, flipped=hm)
    assert np.isnan(f.spread_mm).all() and np.isnan(f.flip_mm).all()
    assert f.second_ratio[0, 0] == pytest.approx(0.5, abs=1e-3)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="heatmaps must be"):
        landmark_features(torch.zeros(H, W), (1, 1))
    with pytest.raises(ValueError, match="mm_per_px"):
        landmark_features(torch.zeros(1, H, W), (0, 1))
    with pytest.raises(ValueError, match="flipped"):
        landmark_features(torch.zeros(2, H, W), (1, 1), flipped=torch.zeros(1, H, W))
    with pytest.raises(ValueError, match="p must have shape"):
        landmark_features(torch.zeros(2, H, W), (1, 1), p=[0.5])


def test_second_candidate_maps_to_image_pixels_like_the_predictor():
    predictor = Predictor.from_preset("tiny")
    image = np.random.default_rng(0).random((900, 300), np.float32)  # not blank
    result = predictor.predict(image)
    box = Letterbox.fit(image.shape, predictor.config.geometry)
    uv = np.array([[3.0, 7.0], [20.25, 50.5]])
    expected = box.to_image(
        heatmap_to_input(torch.tensor(uv), predictor.config.geometry.stride).numpy()
    )
    got = heatmap_to_image_xy(uv, result.heatmap_scale, result.heatmap_translate)
    np.testing.assert_allclose(got, expected, atol=1e-9)
