"""The geometric part of augmentation: one affine resampling per batch, landmarks exact.

Coordinates are input pixels ``(x, y)`` with pixel centres at integers (the convention of
:mod:`apn_core.heatmaps`). Each image gets a 3×3 matrix ``M`` (output px ← source px)::

    M = T(c + t) · R(θ) · S(sx, sy) · T(−c) · T(0, shift) · F

about the image centre ``c``: ``F`` a horizontal flip (``x → w−1−x``, left/right landmarks
swapped), ``T(0, shift)`` the re-centring of a cropped view, ``S`` the zoom with a small
anisotropy, ``R`` the rotation, ``t`` the translation. The image is resampled once
(bilinear, zeros outside — the letterbox's own padding) with ``grid_sample`` over the whole
batch, and each landmark is mapped by the same ``M``: they agree to floating-point precision.

A *crop* removes the top or bottom rows ``y < cut_top`` / ``y > h−1−cut_bottom`` of the
source (a restricted view): they become black or flat padding, and the rest is moved to the
centre as the letterbox of a shorter radiograph would place it. A landmark in a removed band
or moved out of the frame becomes *absent*.

The matrices are built on the CPU from the per-image draws (small), so nothing here reads a
device tensor back to the host.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from apn_core.config import AugmentConfig


def sample_geometry(
    cfg: AugmentConfig, b: int, h: int, w: int, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    """Per-image draws and matrices (CPU, float32): ``flip`` (B,), ``matrix`` (B,3,3)
    output ← source px, ``theta`` (B,2,3) for ``affine_grid``, ``cut_top`` / ``cut_bottom``
    (B,) rows removed, ``crop_fill`` (B,) the removed band's value."""

    def u(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen, dtype=torch.float64)

    flip = u(b) < cfg.flip_prob
    angle = (2 * u(b) - 1) * math.radians(cfg.rotation_deg)
    lo, hi = (math.log(v) for v in cfg.scale)
    scale = torch.exp(lo + u(b) * (hi - lo))
    aniso = torch.where(u(b) < cfg.anisotropy_prob, (2 * u(b) - 1) * cfg.anisotropy, 0.0)
    shift = (2 * u(b, 2) - 1) * cfg.translate * torch.tensor([w, h], dtype=torch.float64)
    crop = u(b) < cfg.crop_prob
    top = u(b) < 0.5
    band = torch.where(crop, u(b) * cfg.crop_max * h, 0.0)
    cut_top, cut_bottom = torch.where(top, band, 0.0), torch.where(top, 0.0, band)
    fill = torch.where(u(b) < 0.5, 0.0, u(b))  # black, or flat padding of any grey

    cx, cy = (w - 1) / 2, (h - 1) / 2
    eye = torch.eye(3, dtype=torch.float64).repeat(b, 1, 1)
    flip_m = eye.clone()
    flip_m[flip, 0, 0], flip_m[flip, 0, 2] = -1.0, w - 1.0
    recentre = eye.clone()
    recentre[:, 1, 2] = -(cut_top - cut_bottom) / 2
    to_origin = eye.clone()
    to_origin[:, 0, 2], to_origin[:, 1, 2] = -cx, -cy
    zoom = eye.clone()
    zoom[:, 0, 0], zoom[:, 1, 1] = scale * (1 + aniso), scale * (1 - aniso)
    rot = eye.clone()
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = cos, -sin, sin, cos
    back = eye.clone()
    back[:, 0, 2], back[:, 1, 2] = cx + shift[:, 0], cy + shift[:, 1]
    matrix = back @ rot @ zoom @ to_origin @ recentre @ flip_m
    return {
        "flip": flip,
        "matrix": matrix.float(),
        "theta": affine_theta(torch.linalg.inv(matrix), h, w).float(),
        "cut_top": cut_top.float(),
        "cut_bottom": cut_bottom.float(),
        "crop_fill": fill.float(),
    }


def affine_theta(src_from_out: torch.Tensor, h: int, w: int, th: int = 0, tw: int = 0):
    """``affine_grid`` matrices (B,2,3) for a pixel map ``src_from_out`` (B,3,3): output
    normalised coordinates (``align_corners=True`` over ``h × w``) → source normalised
    coordinates (over ``th × tw``, default the same size)."""
    th, tw = th or h, tw or w
    n_out = torch.tensor(
        [[(w - 1) / 2, 0, (w - 1) / 2], [0, (h - 1) / 2, (h - 1) / 2], [0, 0, 1]],
        dtype=src_from_out.dtype,
    )
    n_src = torch.tensor(
        [[2 / max(tw - 1, 1), 0, -1], [0, 2 / max(th - 1, 1), -1], [0, 0, 1]],
        dtype=src_from_out.dtype,
    )
    return (n_src @ src_from_out @ n_out)[:, :2]


def sampling_grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``F.affine_grid(theta, (B, 1, h, w), align_corners=True)`` by broadcasting (B,H,W,2)
    — the same numbers without its batched matrix product, several times faster on CPU."""
    xs = torch.linspace(-1, 1, w, device=theta.device, dtype=theta.dtype).view(1, 1, w)
    ys = torch.linspace(-1, 1, h, device=theta.device, dtype=theta.dtype).view(1, h, 1)
    t = theta[..., None, None]  # (B,2,3,1,1)
    gx = t[:, 0, 0] * xs + t[:, 0, 1] * ys + t[:, 0, 2]
    gy = t[:, 1, 0] * xs + t[:, 1, 1] * ys + t[:, 1, 2]
    return torch.stack([gx, gy], dim=-1)


def apply_geometry(
    images: torch.Tensor,
    xy: torch.Tensor,
    present: torch.Tensor,
    perm: torch.Tensor,
    p: dict[str, torch.Tensor],
    any_crop: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Warp ``images`` (B,1,H,W) and move ``xy`` (B,K,2, NaN = absent) / ``present`` (B,K)
    by ``p`` (from :func:`sample_geometry`, on the images' device)."""
    b, _, h, w = images.shape
    grid = sampling_grid(p["theta"], h, w)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    top, bottom = p["cut_top"][:, None], p["cut_bottom"][:, None]
    if any_crop:
        src_y = (grid[..., 1] + 1) * ((h - 1) / 2)  # (B,H,W) source row of each pixel
        kept = (src_y >= top[..., None]) & (src_y <= (h - 1) - bottom[..., None])
        out = torch.where(kept[:, None], out, p["crop_fill"].view(b, 1, 1, 1))
    flip = p["flip"][:, None]
    src_xy = torch.where(flip[..., None], xy[:, perm], xy)
    src_present = torch.where(flip, present[:, perm], present)
    in_band = (src_xy[..., 1] >= top) & (src_xy[..., 1] <= (h - 1) - bottom)
    m = p["matrix"]
    new_xy = torch.einsum("bij,bkj->bki", m[:, :2, :2], src_xy) + m[:, None, :2, 2]
    inside = (
        (new_xy[..., 0] >= 0)
        & (new_xy[..., 0] <= w - 1)
        & (new_xy[..., 1] >= 0)
        & (new_xy[..., 1] <= h - 1)
    )
    new_present = src_present & in_band & inside
    new_xy = torch.where(new_present[..., None], new_xy, torch.full_like(new_xy, float("nan")))
    return out, new_xy, new_present
