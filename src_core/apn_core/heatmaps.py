"""Gaussian target heatmaps and their decoding back to coordinates.

Heatmap pixel ``j`` covers input pixels ``[j·s, (j+1)·s)``; its centre is input
``j·s + (s−1)/2``. So input x ↔ heatmap u = (x − (s−1)/2) / s.
Absent landmarks have an all-zero target; not-annotated ones get weight 0.
"""

from __future__ import annotations

import torch


def input_to_heatmap(xy: torch.Tensor, stride: int) -> torch.Tensor:
    return (xy - (stride - 1) / 2) / stride


def heatmap_to_input(uv: torch.Tensor, stride: int) -> torch.Tensor:
    return uv * stride + (stride - 1) / 2


def render_targets(
    xy: torch.Tensor, shape: tuple[int, int], stride: int, sigma: float
) -> torch.Tensor:
    """``(B, K, 2)`` input-pixel (x, y), NaN = absent → ``(B, K, h, w)`` Gaussians, peak 1."""
    h, w = shape
    uv = input_to_heatmap(xy, stride)
    ys = torch.arange(h, dtype=xy.dtype, device=xy.device).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=xy.dtype, device=xy.device).view(1, 1, 1, w)
    u, v = uv[..., 0, None, None], uv[..., 1, None, None]
    g = torch.exp(-((xs - u) ** 2 + (ys - v) ** 2) / (2 * sigma**2))
    return torch.nan_to_num(g, nan=0.0)


def decode(
    heatmaps: torch.Tensor, stride: int, method: str = "quadratic"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, K, h, w)`` → input-pixel (x, y) ``(B, K, 2)`` and the peak values ``(B, K)``.

    ``argmax``: the reference's whole-pixel maximum. ``quadratic``: a parabola through the
    maximum and its neighbours along each axis (of the log heatmap, exact for a Gaussian).
    """
    b, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, k, h * w)
    peak, idx = flat.max(dim=-1)
    v, u = (idx // w).to(heatmaps.dtype), (idx % w).to(heatmaps.dtype)
    if method == "quadratic":
        log_hm = torch.log(heatmaps.clamp_min(1e-6)).reshape(b, k, h * w)
        vi, ui = v.long(), u.long()

        def at(dv: int, du: int) -> torch.Tensor:
            """Log heatmap at (v + dv, u + du), clamped to the map."""
            vv, uu = (vi + dv).clamp(0, h - 1), (ui + du).clamp(0, w - 1)
            return log_hm.gather(-1, (vv * w + uu).unsqueeze(-1)).squeeze(-1)

        c = at(0, 0)
        du = _parabola(at(0, -1), c, at(0, 1)) * ((ui > 0) & (ui < w - 1))
        dv = _parabola(at(-1, 0), c, at(1, 0)) * ((vi > 0) & (vi < h - 1))
        u, v = u + du, v + dv
    elif method != "argmax":
        raise ValueError(f"unknown decoding {method!r}; use 'argmax' or 'quadratic'")
    xy = heatmap_to_input(torch.stack([u, v], dim=-1), stride)
    return xy, peak


def _parabola(left: torch.Tensor, centre: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    denom = left - 2 * centre + right
    offset = 0.5 * (left - right) / torch.where(denom.abs() > 1e-9, denom, torch.ones_like(denom))
    return torch.where(denom < -1e-9, offset.clamp(-0.5, 0.5), torch.zeros_like(offset))
