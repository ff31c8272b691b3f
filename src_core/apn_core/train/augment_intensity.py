"""Intensity and processing looks: how X-ray systems and archives render the same anatomy.

Each operation acts on the whole batch at once with per-image parameters (an image not
chosen gets the identity parameters); an operation no image of the batch drew is skipped.
The decisions "did any image draw it" come from the CPU draws, never from device tensors.
Images are 0–1 floats ``(B, 1, H, W)``; every operation keeps them in 0–1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from apn_core.config import AugmentConfig

TONE_LINEAR, TONE_LOG, TONE_SIGMOID = 0, 1, 2


def sample_intensity(cfg: AugmentConfig, b: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-image draws (CPU, float32 unless noted)."""

    def u(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen)

    def chosen(prob: float) -> torch.Tensor:
        return u(b) < prob

    def between(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * u(b)

    g_lo, g_hi = (math.log(v) for v in cfg.gamma)
    gamma = torch.where(chosen(cfg.gamma_prob), torch.exp(between(g_lo, g_hi)), 1.0)
    tone = torch.where(
        chosen(cfg.tone_prob), torch.where(u(b) < 0.5, TONE_LOG, TONE_SIGMOID), TONE_LINEAR
    )
    width = torch.where(chosen(cfg.window_prob), between(*cfg.window_width), 1.0)
    unsharp = chosen(cfg.unsharp_prob)
    blur = chosen(cfg.blur_prob)
    quantise = chosen(cfg.quantise_prob)
    bits = torch.randint(cfg.quantise_bits[0], cfg.quantise_bits[1] + 1, (b,), generator=gen)
    return {
        "gamma": gamma,
        "contrast": between(*cfg.contrast),
        "tone": tone.float(),
        "log_k": torch.exp(between(math.log(2.0), math.log(50.0))),
        "sig_gain": between(4.0, 12.0),
        "sig_centre": between(0.35, 0.65),
        "window_low": (1 - width) * u(b),
        "window_width": width,
        "unsharp_amount": torch.where(unsharp, between(*cfg.unsharp_amount), 0.0),
        "unsharp_radius": torch.where(unsharp, between(*cfg.unsharp_radius), 0.0),
        "blur_sigma": torch.where(blur, between(*cfg.blur_sigma), 0.0),
        "noise_std": cfg.noise_std * u(b),
        "noise_signal": cfg.noise_signal * u(b),
        "levels": torch.where(quantise, 2.0**bits - 1, 0.0),
    }


def gaussian_blur(
    images: torch.Tensor, sigma: torch.Tensor, max_sigma: float, min_sigma: float = 0.0
) -> torch.Tensor:
    """Each image blurred with its own σ (px; 0 = unchanged). ``max_sigma`` / ``min_sigma``:
    the largest and smallest non-zero σ of the batch (from the CPU draws).

    Two separable grouped convolutions over the whole batch, edges replicated. When every
    σ is wide (≥ 4 px, unsharp-mask radii) the image is first mean-pooled ``f`` ≤ σ/2
    times, blurred with the remaining width and upsampled bilinearly — pooling and
    upsampling add a variance of about f²/4, taken off the kernel's — so the kernel stays
    short on a CPU.
    """
    b, _, h, w = images.shape
    f = max(1, min(int(min_sigma // 2), h // 8, w // 8))
    small = F.avg_pool2d(images, f, ceil_mode=True) if f > 1 else images
    s = (sigma.square() - 0.25 * f * f).clamp_min(1e-6).sqrt() / f if f > 1 else sigma
    radius = kernel_radius(max_sigma / f)
    x = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-(x**2) / (2 * s.clamp_min(1e-3)[:, None] ** 2))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    sh, sw = small.shape[-2:]
    flat = small.reshape(1, b, sh, sw)
    cudnn = torch.backends.cudnn
    # the shapes change from batch to batch: no cuDNN autotuning (it would wait for the GPU)
    with cudnn.flags(
        enabled=cudnn.enabled,
        benchmark=False,
        deterministic=cudnn.deterministic,
        allow_tf32=cudnn.allow_tf32,
    ):
        flat = F.pad(flat, (radius, radius, 0, 0), mode="replicate")
        flat = F.conv2d(flat, kernel.view(b, 1, 1, -1), groups=b)
        flat = F.pad(flat, (0, 0, radius, radius), mode="replicate")
        flat = F.conv2d(flat, kernel.view(b, 1, -1, 1), groups=b).reshape(b, 1, sh, sw)
    if f > 1:
        flat = F.interpolate(flat, scale_factor=f, mode="bilinear", align_corners=False)
        flat = flat[..., :h, :w]
    return torch.where(sigma.view(b, 1, 1, 1) > 0, flat, images)


def kernel_radius(max_sigma: float) -> int:
    """Half-width (px) of a Gaussian kernel for σ up to ``max_sigma``: 3σ, at least 1."""
    return max(1, math.ceil(3 * max_sigma))


def tone_curve(images: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
    """Linear, log (``log(1 + k·I) / log(1 + k)``) or sigmoid (S-shaped, normalised to map
    0 → 0 and 1 → 1) per image."""
    view = (-1, 1, 1, 1)
    k = p["log_k"].view(view)
    log_curve = torch.log1p(k * images) / torch.log1p(k)
    gain, centre = p["sig_gain"].view(view), p["sig_centre"].view(view)
    s0, s1 = torch.sigmoid(-gain * centre), torch.sigmoid(gain * (1 - centre))
    sig_curve = (torch.sigmoid(gain * (images - centre)) - s0) / (s1 - s0)
    tone = p["tone"].view(view)
    out = torch.where(tone == TONE_LOG, log_curve, images)
    return torch.where(tone == TONE_SIGMOID, sig_curve, out)


def blur(images: torch.Tensor, q: dict[str, torch.Tensor], host: dict) -> torch.Tensor:
    """Gaussian blur of σ ``blur_sigma`` (px)."""
    return gaussian_blur(images, q["blur_sigma"], host["max_blur"], host["min_blur"])


def gamma(images: torch.Tensor, q: dict[str, torch.Tensor], host: dict) -> torch.Tensor:
    """``I ** gamma`` (> 1 darkens the mid-tones, < 1 brightens them)."""
    return images.clamp(0, 1) ** q["gamma"].view(-1, 1, 1, 1)


def unsharp(images: torch.Tensor, q: dict[str, torch.Tensor], host: dict) -> torch.Tensor:
    """``I + amount · (I − blur_radius(I))``: the edge enhancement of DR/CR processing."""
    soft = gaussian_blur(images, q["unsharp_radius"], host["max_unsharp"], host["min_unsharp"])
    return (images + q["unsharp_amount"].view(-1, 1, 1, 1) * (images - soft)).clamp(0, 1)


def contrast(images: torch.Tensor, q: dict[str, torch.Tensor], host: dict) -> torch.Tensor:
    """Contrast factor about each image's mean."""
    mean = images.mean(dim=(-2, -1), keepdim=True)
    return ((images - mean) * q["contrast"].view(-1, 1, 1, 1) + mean).clamp(0, 1)


def window(images: torch.Tensor, q: dict[str, torch.Tensor], host: dict) -> torch.Tensor:
    """Clip to ``[low, low + width]`` and stretch that back to 0–1."""
    low, width = q["window_low"].view(-1, 1, 1, 1), q["window_width"].view(-1, 1, 1, 1)
    return ((images - low) / width).clamp(0, 1)


def noise(images: torch.Tensor, q: dict[str, torch.Tensor], gen: torch.Generator) -> torch.Tensor:
    """Electronic (σ) and quantum (σ·√I) Gaussian noise."""
    view = (-1, 1, 1, 1)
    white = torch.randn(images.shape, generator=gen, device=images.device)
    quantum = torch.randn(images.shape, generator=gen, device=images.device)
    out = images + q["noise_std"].view(view) * white
    out = out + q["noise_signal"].view(view) * images.clamp_min(0).sqrt() * quantum
    return out.clamp(0, 1)


def quantise(images: torch.Tensor, q: dict[str, torch.Tensor], host: dict) -> torch.Tensor:
    """Round to ``levels`` grey levels (2^bits − 1), as an archive of that bit depth."""
    levels = q["levels"].view(-1, 1, 1, 1)
    return torch.round(images.clamp(0, 1) * levels) / levels


def tone(images: torch.Tensor, q: dict[str, torch.Tensor], host: dict) -> torch.Tensor:
    """:func:`tone_curve` on 0–1 images."""
    return tone_curve(images.clamp(0, 1), q)


# (name, function, chosen(draws) → bool per image): the order of acquisition to display
PROCESSING = (
    ("blur", blur, lambda p: p["blur_sigma"] > 0),
    ("tone", tone, lambda p: p["tone"] != TONE_LINEAR),
    ("gamma", gamma, lambda p: p["gamma"] != 1),
    ("unsharp", unsharp, lambda p: (p["unsharp_amount"] > 0) & (p["unsharp_radius"] > 0)),
    ("contrast", contrast, lambda p: p["contrast"] != 1),
    ("window", window, lambda p: p["window_width"] < 1),
)
