"""Augmentation: landmarks follow the geometry exactly, every operation does something and
keeps 0–1, a seed replays a batch, and the batch is processed without a loop over images."""

from __future__ import annotations

import math

import pytest
import torch

from apn_core.config import AugmentConfig
from apn_core.train.augment import Augmenter

H, W, K = 96, 48, 6
MIRROR = [1, 0, 3, 2, 5, 4]
# every operation off: the augmenter is then the identity
NEUTRAL = {
    "flip_prob": 0.0,
    "rotation_deg": 0.0,
    "scale": (1.0, 1.0),
    "translate": 0.0,
    "anisotropy_prob": 0.0,
    "crop_prob": 0.0,
    "gamma_prob": 0.0,
    "contrast": (1.0, 1.0),
    "tone_prob": 0.0,
    "window_prob": 0.0,
    "unsharp_prob": 0.0,
    "blur_prob": 0.0,
    "noise_std": 0.0,
    "noise_signal": 0.0,
    "quantise_prob": 0.0,
    "text_prob": 0.0,
    "marker_prob": 0.0,
    "ruler_prob": 0.0,
    "grid_prob": 0.0,
    "seam_prob": 0.0,
    "border_prob": 0.0,
    "occluder_prob": 0.0,
}
PHOTOMETRIC = {
    "gamma": {"gamma_prob": 1.0},
    "contrast": {"contrast": (1.3, 1.5)},
    "tone curve": {"tone_prob": 1.0},
    "windowing": {"window_prob": 1.0, "window_width": (0.5, 0.6)},
    "unsharp masking": {"unsharp_prob": 1.0, "unsharp_amount": (1.0, 1.5)},
    "blur": {"blur_prob": 1.0},
    "noise": {"noise_std": 0.05},
    "signal-dependent noise": {"noise_signal": 0.05},
    "quantisation": {"quantise_prob": 1.0, "quantise_bits": (3, 4)},
    "text": {"text_prob": 1.0},
    "lead marker": {"marker_prob": 1.0},
    "ruler": {"ruler_prob": 1.0},
    "grid lines": {"grid_prob": 1.0, "grid_amplitude": 0.2},
    "stitching seam": {"seam_prob": 1.0},
    "borders": {"border_prob": 1.0, "border_max": 0.4},
    "metal occluders": {"occluder_prob": 1.0},
}


def _augmenter(**changes) -> Augmenter:
    return Augmenter(AugmentConfig(**{**NEUTRAL, **changes}), MIRROR)


def _radiograph(b: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A smooth, textured image (not flat: every operation has something to change) and six
    landmarks inside it."""
    ys = torch.linspace(0, 1, H).view(H, 1)
    xs = torch.linspace(0, 1, W).view(1, W)
    image = 0.2 + 0.5 * ys * xs + 0.2 * torch.sin(xs * 9) * torch.cos(ys * 7)
    image[10:86, 8:20] += 0.25  # a bone: hard edges
    images = image.expand(b, 1, H, W).clone()
    xy = torch.tensor([[14.0, 20], [34, 20], [15, 50], [33, 50], [16, 80], [32, 80]])
    return images, xy.expand(b, K, 2).clone(), torch.ones(b, K, dtype=torch.bool)


def _blobs(xy: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """One image per landmark row ``xy`` (B,2): a Gaussian blob there."""
    ys = torch.arange(H, dtype=torch.float32).view(1, H, 1)
    xs = torch.arange(W, dtype=torch.float32).view(1, 1, W)
    d2 = (xs - xy[:, 0, None, None]) ** 2 + (ys - xy[:, 1, None, None]) ** 2
    return torch.exp(-d2 / (2 * sigma**2))[:, None]


def test_neutral_settings_leave_the_batch_unchanged():
    images, xy, present = _radiograph()
    out, out_xy, out_present = _augmenter()(images, xy, present, seed=1)
    torch.testing.assert_close(out, images, atol=1e-5, rtol=0)
    torch.testing.assert_close(out_xy, xy, atol=1e-4, rtol=0)
    assert out_present.all()


def test_landmarks_follow_the_geometry_to_a_pixel():
    """A blob drawn at a landmark, warped with the image, is found where the augmented
    landmark says — through flips (with the left/right swap), rotation, zoom, anisotropy
    and translation."""
    augmenter = _augmenter(
        flip_prob=0.5,
        rotation_deg=12.0,
        scale=(0.75, 1.3),
        translate=0.08,
        anisotropy_prob=1.0,
        anisotropy=0.05,
    )
    b = 24
    gen = torch.Generator().manual_seed(0)
    xy = torch.full((b, K, 2), float("nan"))
    present = torch.zeros(b, K, dtype=torch.bool)
    which = torch.arange(b) % K  # image i shows landmark which[i] only
    points = torch.rand(b, 2, generator=gen) * torch.tensor([W - 16.0, H - 16.0]) + 8
    xy[torch.arange(b), which] = points
    present[torch.arange(b), which] = True
    out, out_xy, out_present = augmenter(_blobs(points), xy, present, seed=3)
    assert out_present.sum(1).le(1).all()
    checked, flipped = 0, 0
    for i in range(b):
        if not out_present[i].any():
            continue
        k = int(out_present[i].nonzero())
        flipped += k != int(which[i])
        assert k in (int(which[i]), MIRROR[int(which[i])])
        x, y = out_xy[i, k].tolist()
        if not (7 <= x <= W - 8 and 7 <= y <= H - 8):
            continue  # the blob may be cut by the frame
        xi, yi = round(x), round(y)
        patch = out[i, 0, yi - 6 : yi + 7, xi - 6 : xi + 7]
        gy, gx = torch.meshgrid(
            torch.arange(yi - 6, yi + 7.0), torch.arange(xi - 6, xi + 7.0), indexing="ij"
        )
        cx, cy = (patch * gx).sum() / patch.sum(), (patch * gy).sum() / patch.sum()
        assert math.hypot(cx - x, cy - y) < 0.5, (i, x, y, float(cx), float(cy))
        checked += 1
    assert checked >= 15 and flipped >= 3


def test_landmarks_leaving_the_frame_become_absent():
    """A fixed 2× zoom about the centre keeps landmarks within a quarter width of the
    centre (at twice the distance) and pushes the others out — absent, NaN."""
    augmenter = _augmenter(scale=(2.0, 2.0))
    images, _, present = _radiograph(1)
    cx, cy = (W - 1) / 2, (H - 1) / 2
    xy = torch.tensor(
        [
            [
                [cx - 5, cy],
                [cx + 5, cy + 10],
                [cx - 15, cy],
                [cx, cy - 30],
                [cx + 20, cy + 5],
                [cx, cy + 40],
            ]
        ]
    )
    _, out_xy, out_present = augmenter(images, xy, present, seed=0)
    assert out_present[0].tolist() == [True, True, False, False, False, False]
    expected = torch.tensor([[cx - 10, cy], [cx + 10, cy + 20]])
    torch.testing.assert_close(out_xy[0, :2], expected, atol=1e-4, rtol=0)
    assert out_xy[0, 2:].isnan().all()


def test_a_cropped_band_hides_its_landmarks_and_recentres_the_view():
    augmenter = _augmenter(crop_prob=1.0, crop_max=0.5)
    images, xy, present = _radiograph(16)
    p = augmenter.sample(16, H, W, K, seed=5)
    out, out_xy, out_present = augmenter(images, xy, present, seed=5)
    top, bottom = p["cut_top"], p["cut_bottom"]
    assert (top > 0).any() and (bottom > 0).any() and ((top > 0) ^ (bottom > 0)).all()
    kept = (xy[..., 1] >= top[:, None]) & (xy[..., 1] <= (H - 1) - bottom[:, None])
    assert torch.equal(out_present, kept)
    shift = -(top - bottom) / 2  # the rest moves to the centre
    torch.testing.assert_close(out_xy[..., 1][kept], (xy[..., 1] + shift[:, None])[kept])
    for i in range(16):  # the removed band is flat padding (black or grey)
        band = slice(0, int(top[i] + shift[i]) - 1) if top[i] > 0 else None
        if band is not None and band.stop > 1:
            assert torch.allclose(out[i, 0, band], p["crop_fill"][i].expand_as(out[i, 0, band]))


@pytest.mark.parametrize("name", list(PHOTOMETRIC))
def test_each_operation_changes_the_image_and_keeps_0_to_1(name):
    images, xy, present = _radiograph()
    out, out_xy, out_present = _augmenter(**PHOTOMETRIC[name])(images, xy, present, seed=7)
    assert out.dtype == torch.float32 and out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 1
    changed = (out - images).abs().flatten(1).amax(1)
    assert (changed > 0.02).all(), (name, changed)  # every image of the batch drew it
    if name == "borders":  # a landmark under a border is absent; the rest stay in place
        assert not torch.equal(out_present, present)
    else:
        assert torch.equal(out_present, present)
    torch.testing.assert_close(out_xy[out_present], xy[out_present], atol=1e-4, rtol=0)


def test_an_operation_drawn_by_some_images_leaves_the_others_alone():
    images, xy, present = _radiograph(32)
    augmenter = _augmenter(gamma_prob=0.5, gamma=(2.0, 2.5), window_prob=0.3)
    draws = augmenter.sample(32, H, W, K, seed=2)
    out, _, _ = augmenter(images, xy, present, seed=2)
    untouched = (draws["gamma"] == 1) & (draws["window_width"] == 1)
    assert 0 < untouched.sum() < 32
    same = (out - images).abs().flatten(1).amax(1) < 1e-6
    assert torch.equal(same, untouched)


def test_occluders_are_drawn_over_the_chosen_landmarks_and_leave_them_present():
    images, xy, present = _radiograph(8)
    present[0, 2] = False
    xy[0, 2] = float("nan")
    augmenter = _augmenter(occluder_prob=1.0)
    d = augmenter.sample(8, H, W, K, seed=4)
    out, _, out_present = augmenter(images, xy, present, seed=4)
    assert torch.equal(out_present, present)
    expected = images.clone()  # the same draws, one ellipse at a time
    ys, xs = torch.arange(H).view(H, 1), torch.arange(W).view(1, W)
    for i in range(8):
        for k in range(K):
            if not (d["occluder"][i, k] and present[i, k]):
                continue
            cx, cy = xy[i, k] + d["occluder_jitter"][i, k]
            rx, ry = d["occluder_radii"][i, k]
            inside = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1
            level = d["occluder_level"][i, k]
            expected[i, 0] = torch.where(inside, expected[i, 0].clamp_min(level), expected[i, 0])
    assert d["occluder"].sum() > 8
    torch.testing.assert_close(out, expected)


def test_the_same_seed_replays_a_batch_and_another_seed_does_not():
    augmenter = Augmenter(AugmentConfig(), MIRROR)
    images, xy, present = _radiograph(6)
    a = augmenter(images, xy, present, seed=11)
    b = augmenter(images, xy, present, seed=11)
    c = augmenter(images, xy, present, seed=12)
    assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])
    assert torch.equal(a[1].nan_to_num(-1), b[1].nan_to_num(-1))
    assert not torch.equal(a[0], c[0])


def test_the_batch_is_processed_at_once_not_image_by_image():
    """The number of torch operations does not grow with the batch: 16 and 64 images, every
    operation drawn by every image, run the same operations."""
    from torch.overrides import TorchFunctionMode

    class Count(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.calls: dict[str, int] = {}

        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", str(func))
            self.calls[name] = self.calls.get(name, 0) + 1
            return func(*args, **(kwargs or {}))

    always = {k: 1.0 for k in AugmentConfig().__dict__ if k.endswith("_prob") and k != "flip_prob"}
    counts = []
    for b in (16, 64):
        augmenter = Augmenter(AugmentConfig(**always), MIRROR)
        images, xy, present = _radiograph(b)
        with Count() as count:
            augmenter(images, xy, present, seed=1)
        counts.append(count.calls)
    heavy = {"grid_sample", "conv2d"}
    assert counts[0] == counts[1]
    assert heavy <= set(counts[0])


def test_a_wide_blur_on_a_pooled_image_matches_the_full_size_blur():
    """Unsharp-mask radii of 4–8 px are blurred on a 2–4× smaller image; the result is the
    full-size Gaussian's within a few grey levels (edges, replicated differently, aside)."""
    from apn_core.train.augment_intensity import gaussian_blur

    images, _, _ = _radiograph(3)
    sigma = torch.tensor([4.0, 6.0, 8.0])
    fast = gaussian_blur(images, sigma, max_sigma=8.0, min_sigma=4.0)  # pooled 2×
    exact = gaussian_blur(images, sigma, max_sigma=8.0, min_sigma=0.0)  # full size
    assert (fast - exact)[..., 8:-8, 8:-8].abs().max() < 0.01
    assert (fast - exact).abs().max() < 0.03
