"""The integer-input antialiased resize against PyTorch's (the preprocessing it replaced),
and the network input it feeds, on small arrays of every pixel type a reader returns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from apn_core.config import GeometryConfig
from apn_core.geometry import Letterbox, network_input, normalise_intensity
from apn_core.resample import resample, triangle_weights


def reference(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The preprocessing before: the whole image as float32 through torch's AA bilinear."""
    t = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None, None]
    return F.interpolate(t, size=shape, mode="bilinear", antialias=True, align_corners=False)[
        0, 0
    ].numpy()


def reference_input(pixels: np.ndarray, geometry: GeometryConfig) -> np.ndarray:
    box = Letterbox.fit(pixels.shape, geometry)
    return box.pad(normalise_intensity(reference(pixels, box.resized_shape)))


def smooth_image(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """A radiograph-like 12-bit image: smooth structure, edges and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :cols] / max(rows, cols)
    img = 1500 + 1200 * np.sin(7 * xx) * np.cos(5 * yy) + 800 * (xx > 0.37)
    return np.clip(img + rng.normal(0, 60, img.shape), 0, 4095)


SHAPES = [
    ((100, 37), (20, 9)),  # odd, not divisible
    ((733, 281), (512, 192)),  # a reduction below 2
    ((1999, 761), (131, 50)),  # ~15×, prime-ish sizes
    ((37, 100), (50, 120)),  # enlarging
    ((5, 5), (1, 1)),
    ((1, 1), (3, 4)),
    ((2, 300), (1, 40)),
]


@pytest.mark.parametrize(("shape", "out"), SHAPES)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64])
def test_resample_equals_torch_antialiased_bilinear(shape, out, dtype):
    img = smooth_image(*shape)
    if dtype == np.uint8:
        img = img / 16
    elif dtype == np.int16:
        img = img - 2048  # negative values too
    pixels = img.astype(dtype)
    got = resample(pixels, out)
    want = reference(pixels, out)
    assert got.shape == out and got.dtype == np.float32
    span = float(np.ptp(want)) or 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=5e-6 * max(span, np.abs(want).max()))


def test_resample_reads_strided_and_bool_pixels_without_changing_them():
    img = smooth_image(400, 300).astype(np.uint16)
    before = img.copy()
    view = img[::3, 1::2]  # not contiguous
    np.testing.assert_allclose(resample(view, (40, 25)), reference(view, (40, 25)), atol=1e-3)
    np.testing.assert_array_equal(img, before)
    mask = img > 1500
    np.testing.assert_allclose(resample(mask, (40, 30)), reference(mask, (40, 30)), atol=1e-6)


def test_triangle_weights_sum_to_one_and_cover_the_scale():
    first, last, w = triangle_weights(7759, 512)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)
    assert first[0] == 0 and last[-1] == 7759
    assert (last - first).max() <= 2 * 7759 / 512 + 2  # the triangle's full width


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_network_input_from_integers_equals_the_float_reference(dtype):
    """What training and inference feed the network is unchanged to float rounding."""
    geometry = GeometryConfig(height=256, width=96, stride=4)
    img = smooth_image(1501, 577, seed=3)
    pixels = (img / 16 if dtype == np.uint8 else img).astype(dtype)
    got, box = network_input(pixels, geometry)
    assert got.shape == (256, 96) and box.image_shape == (1501, 577)
    np.testing.assert_allclose(got, reference_input(pixels, geometry), rtol=0, atol=1e-5)


def test_network_input_does_not_copy_the_image_as_float(tmp_path):
    """No full-size float32 (4 bytes a pixel) exists on the way from the file to the input:
    read + preprocess peak at the pixel data's own size plus the 512-row intermediate of
    the resize, where reading through pydicom and converting to float32 peaked at ≥ 3×."""
    import tracemalloc

    from apn_core.io import read_radiograph, write_dicom

    img = smooth_image(3001, 1103).astype(np.uint16)
    write_dicom(tmp_path / "a.dcm", img, (0.143, 0.143), bits_stored=12)
    tracemalloc.start()
    try:
        r = read_radiograph(tmp_path / "a.dcm")
        network_input(r.pixels, GeometryConfig())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.pixels.dtype == np.uint16
    intermediate = 512 * img.shape[1] * 4
    assert peak < img.nbytes + 1.2 * intermediate + 2**19


def test_the_overlay_picture_does_not_copy_the_image_as_float():
    """apn predict --overlays: the picture under the overlay is reduced from the stored
    integers (it made a full-size float32 copy for PIL)."""
    import tracemalloc

    from apn_core.inference.overlay import overlay_base

    img = smooth_image(3001, 1103).astype(np.uint16)
    tracemalloc.start()
    try:
        base = overlay_base(img, 1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert base.shape == (1000, round(1103 * 1000 / 3001)) and base.dtype == np.uint8
    assert base.max() == 255 and base.min() == 0
    assert peak < 0.6 * img.size * 4  # a float32 copy alone would be img.size * 4
