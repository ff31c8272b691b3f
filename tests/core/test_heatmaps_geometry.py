"""Target rendering, sub-pixel decoding and the letterbox mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from apn_core.config import GeometryConfig
from apn_core.geometry import Letterbox, network_input, normalise_intensity
from apn_core.heatmaps import decode, render_targets
from apn_core.synth import SynthConfig, generate_case

NAN = float("nan")


def test_decoding_recovers_a_sub_pixel_peak():
    rng = np.random.default_rng(0)
    xy = torch.tensor(rng.uniform([8, 8], [88, 248], size=(3, 6, 2)), dtype=torch.float32)
    hm = render_targets(xy, (64, 24), stride=4, sigma=1.5)
    got, peak = decode(hm, 4, "quadratic")
    assert (got - xy).abs().max() < 0.1 * 4  # < 0.1 heatmap pixel, in input pixels
    coarse, _ = decode(hm, 4, "argmax")
    assert (coarse - xy).abs().max() > 0.5  # argmax is limited to the heatmap grid
    assert ((peak > 0.8) & (peak <= 1.0)).all()


def test_absent_landmarks_render_as_empty_maps():
    xy = torch.tensor([[[10.0, 10.0], [NAN, NAN]]])
    hm = render_targets(xy, (16, 8), 4, 1.5)
    assert hm[0, 1].abs().max() == 0 and hm[0, 0].max() > 0.9
    with pytest.raises(ValueError, match="unknown decoding"):
        decode(hm, 4, "mean")


@pytest.mark.parametrize("shape", [(7300, 2800), (2000, 760), (300, 1000), (512, 192)])
def test_letterbox_keeps_aspect_and_round_trips(shape):
    geom = GeometryConfig(height=512, width=192, stride=4)
    box = Letterbox.fit(shape, geom)
    assert box.sx == pytest.approx(box.sy, rel=0.02)  # anatomy is never distorted
    nh, nw = box.resized_shape
    assert nh <= 512 and nw <= 192 and (nh == 512 or nw == 192)
    pts = np.array([[0.0, 0.0], [shape[1] - 1, shape[0] - 1], [123.4, 56.7]])
    np.testing.assert_allclose(box.to_image(box.to_input(pts)), pts, atol=1e-9)
    assert np.isnan(box.to_input(np.array([NAN, NAN]))).all()


def test_letterboxed_pixels_land_where_the_mapping_says():
    rows, cols = 1500, 600
    image = np.zeros((rows, cols), np.float32)
    yy, xx = np.mgrid[:rows, :cols]
    x0, y0 = 401.3, 977.8
    image += np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 12.0**2))
    box = Letterbox.fit((rows, cols), GeometryConfig(height=256, width=128, stride=4))
    boxed = box.pad(box.resize(image))
    expected = box.to_input(np.array([x0, y0]))
    w = boxed / boxed.sum()
    centroid = np.array([(w * np.arange(128)[None, :]).sum(), (w * np.arange(256)[:, None]).sum()])
    np.testing.assert_allclose(centroid, expected, atol=0.1)
    assert box.input_spacing((0.5, 0.5)) == pytest.approx((0.5 / box.sy, 0.5 / box.sx))


def test_normalise_intensity_maps_percentiles_to_unit_range():
    x = np.linspace(0, 4095, 10000, dtype=np.float32).reshape(100, 100)
    out = normalise_intensity(x)
    assert out.min() == 0.0 and out.max() == 1.0 and out.dtype == np.float32


def test_network_input_does_not_depend_on_the_files_pixel_size():
    """The same synthetic anatomy stored at 0.5 and at 0.143 mm/px (full size, where quantum
    noise per pixel is ~3.5× stronger) must reach the network as nearly the same picture."""
    geom = GeometryConfig(height=512, width=192, stride=4)
    coarse = generate_case(43, 5000, SynthConfig(spacing_mm=0.5)).bone_bright
    fine = generate_case(43, 5000, SynthConfig(spacing_mm=0.143)).bone_bright
    (a, box_a), (b, box_b) = network_input(coarse, geom), network_input(fine, geom)
    assert a.shape == b.shape == (512, 192) and box_a.resized_shape == box_b.resized_shape
    assert np.abs(a - b).mean() < 0.015
    assert abs(a.mean() - b.mean()) < 0.02
    assert a.min() == 0.0 and a.max() == 1.0  # padding is black, the window fills 0–1
