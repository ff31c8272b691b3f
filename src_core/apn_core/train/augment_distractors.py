"""Distractors: what lies on a radiograph besides the anatomy.

- *stamps*: burned-in text (glyph blocks, half of them beside a landmark), lead side
  markers and rulers — small binary textures drawn by ``grid_sample`` (nearest) through a
  per-image affine map, so one call draws one stamp into every image of the batch;
- anti-scatter *grid lines* (a faint cosine), *stitching seams* (a gain step below a row
  and a thin line), flat *borders* (collimation, padding) on random sides;
- *metal occluders*: bright ellipses over landmarks (a loop over the K landmarks, each
  pass over the whole batch).

Landmarks under a border become absent; under text, markers or metal they stay present.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from apn_core.config import AugmentConfig
from apn_core.train.augment_geometry import sampling_grid

GLYPH_ROWS, GLYPH_COLS, CHARS = 7, 4, 6  # a character cell: 5×3 bits and a blank margin
RULER_TICKS = 24
_L = [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]]
_R = [[1, 1, 1, 0], [1, 0, 0, 1], [1, 1, 1, 0], [1, 0, 1, 0], [1, 0, 0, 1]]


def _u(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=gen)


def sample_distractors(
    cfg: AugmentConfig, b: int, h: int, w: int, k: int, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    """Per-image draws (CPU, float32 or bool): stamps' textures and placements, grid lines,
    seams, borders and occluders."""
    out: dict[str, torch.Tensor] = {}
    # text: two glyph blocks per image at most, each a row of 2–6 random 5×3 glyphs
    for i in range(2):
        bits = (_u(gen, b, 5, CHARS, 3) < 0.45).float()
        cells = torch.zeros(b, GLYPH_ROWS, CHARS, GLYPH_COLS)
        cells[:, 1:6, :, :3] = bits
        n_chars = torch.randint(2, CHARS + 1, (b, 1, 1), generator=gen)
        cells = cells * (torch.arange(CHARS).view(1, 1, CHARS, 1) < n_chars[..., None])
        on = _u(gen, b) < cfg.text_prob
        tex = cells.reshape(b, 1, GLYPH_ROWS, CHARS * GLYPH_COLS) * on.view(b, 1, 1, 1)
        char_h = 0.012 * h + 0.02 * h * _u(gen, b)
        half = torch.stack([char_h * 0.6 * CHARS * GLYPH_COLS / 3, char_h * GLYPH_ROWS / 5], 1) / 2
        out[f"text{i}_texture"] = tex
        out[f"text{i}_half"] = half
        out[f"text{i}_angle"] = (2 * _u(gen, b) - 1) * math.radians(4)
        out[f"text{i}_centre"] = _u(gen, b, 2) * torch.tensor([w - 1.0, h - 1.0])
        out[f"text{i}_level"] = 0.75 + 0.25 * _u(gen, b)
        out[f"text{i}_near"] = (_u(gen, b) < 0.5) & on  # beside a landmark
        out[f"text{i}_landmark"] = torch.randint(0, max(k, 1), (b,), generator=gen).float()
        out[f"text{i}_offset"] = (2 * _u(gen, b, 2) - 1) * torch.tensor([0.12 * w, 0.04 * h])
    # lead side marker: an L or an R, sometimes framed
    letter = torch.where((_u(gen, b) < 0.5).view(b, 1, 1), torch.tensor(_L), torch.tensor(_R))
    marker = torch.zeros(b, 9, 8)
    marker[:, 2:7, 2:6] = letter.float()
    framed = (_u(gen, b) < 0.5).view(b, 1, 1)
    ring = torch.ones(9, 8)
    ring[1:-1, 1:-1] = 0
    marker = torch.maximum(marker, ring * framed)
    on = _u(gen, b) < cfg.marker_prob
    size = 0.03 * h + 0.04 * h * _u(gen, b)
    out["marker_texture"] = (marker * on.view(b, 1, 1))[:, None]
    out["marker_half"] = torch.stack([size * 8 / 9, size], 1) / 2
    out["marker_angle"] = (2 * _u(gen, b) - 1) * math.radians(15)
    out["marker_centre"] = _u(gen, b, 2) * torch.tensor([w - 1.0, h - 1.0])
    out["marker_level"] = 0.8 + 0.2 * _u(gen, b)
    # ruler: an edge line and ticks, every 5th long; vertical or horizontal
    ruler = torch.zeros(2 * RULER_TICKS, 3)
    ruler[:, 0] = 1
    ruler[::2, 1] = 1
    ruler[::10, 2] = 1
    on = _u(gen, b) < cfg.ruler_prob
    length = (0.3 + 0.6 * _u(gen, b)) * h
    width = 0.02 * w + 0.03 * w * _u(gen, b)
    horizontal = _u(gen, b) < 0.3
    out["ruler_texture"] = (ruler * on.view(b, 1, 1))[:, None]
    out["ruler_half"] = torch.stack([width, torch.where(horizontal, length * w / h, length)], 1) / 2
    out["ruler_angle"] = torch.where(horizontal, math.pi / 2, 0.0) + (
        2 * _u(gen, b) - 1
    ) * math.radians(3)
    out["ruler_centre"] = _u(gen, b, 2) * torch.tensor([w - 1.0, h - 1.0])
    out["ruler_level"] = 0.75 + 0.25 * _u(gen, b)
    # anti-scatter grid lines
    on = _u(gen, b) < cfg.grid_prob
    out["grid_amplitude"] = torch.where(on, cfg.grid_amplitude * (0.25 + 0.75 * _u(gen, b)), 0.0)
    out["grid_period"] = 2.5 + 5.5 * _u(gen, b)
    out["grid_vertical"] = (_u(gen, b) < 0.7).float()
    out["grid_phase"] = 2 * math.pi * _u(gen, b)
    # stitching seams: up to two, each a gain step below its row and a thin line
    first = _u(gen, b) < cfg.seam_prob
    on = torch.stack([first, first & (_u(gen, b) < 0.3)], 1)  # a second seam sometimes
    lo, hi = cfg.seam_gain
    out["seam_row"] = (0.15 + 0.7 * _u(gen, b, 2)) * (h - 1)
    out["seam_gain"] = torch.where(on, lo + (hi - lo) * _u(gen, b, 2), 1.0)
    out["seam_line"] = torch.where(on, 0.1 * (2 * _u(gen, b, 2) - 1), 0.0)
    # borders: one side, and each other side with probability 0.4, in a chosen image
    one_side = torch.nn.functional.one_hot(torch.randint(0, 4, (b,), generator=gen), 4).bool()
    on = (_u(gen, b, 1) < cfg.border_prob) & ((_u(gen, b, 4) < 0.4) | one_side)
    sizes = torch.tensor([h, h, w, w], dtype=torch.float32)  # top, bottom, left, right
    width = cfg.border_max * (0.3 + 0.7 * _u(gen, b, 4)) * sizes
    out["border"] = torch.where(on, width, 0.0)
    out["border_fill"] = torch.where(_u(gen, b) < 0.6, 0.1 * _u(gen, b), 0.7 + 0.3 * _u(gen, b))
    # metal occluders over landmarks (kept present)
    chosen = (_u(gen, b, 1) < cfg.occluder_prob) & (_u(gen, b, k) < 0.5)
    out["occluder"] = chosen
    out["occluder_jitter"] = torch.randn(b, k, 2, generator=gen) * 2.0
    out["occluder_radii"] = (0.012 + 0.018 * _u(gen, b, k, 2)) * h
    out["occluder_level"] = 0.85 + 0.15 * _u(gen, b, k)
    return out


def stamp_theta(
    centre: torch.Tensor, half: torch.Tensor, angle: torch.Tensor, h: int, w: int
) -> torch.Tensor:
    """``affine_grid`` matrices (B,2,3) taking output pixels to a texture's normalised
    coordinates: the texture fills the rectangle of half-sizes ``half`` (B,2) px about
    ``centre`` (B,2) px, rotated by ``angle`` (B,) radians. Works on any device."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(cos), torch.ones_like(cos)
    # texture ← output px: scale(1/half) · R(−angle) · T(−centre)
    rot = torch.stack([cos, sin, zero, -sin, cos, zero, zero, zero, one], 1).view(-1, 3, 3)
    inv_half = torch.stack(
        [1 / half[:, 0], zero, zero, zero, 1 / half[:, 1], zero, zero, zero, one], 1
    ).view(-1, 3, 3)
    move = torch.stack(
        [one, zero, -centre[:, 0], zero, one, -centre[:, 1], zero, zero, one], 1
    ).view(-1, 3, 3)
    m = (inv_half @ rot @ move)[:, :2]  # texture ← output px, [-1, 1]² inside the rectangle
    # ∘ output px ← normalised output: x = (w−1)/2·(u + 1), y = (h−1)/2·(v + 1) (no tensor
    # is built from Python numbers on the device: that copy would make the host wait)
    a, b = (w - 1) / 2, (h - 1) / 2
    return torch.stack(
        [m[..., 0] * a, m[..., 1] * b, m[..., 0] * a + m[..., 1] * b + m[..., 2]], -1
    )


def stamp(images: torch.Tensor, q: dict[str, torch.Tensor], key: str, centre: torch.Tensor):
    """Burn the ``key`` texture (B,1,th,tw; 1 = drawn) into every image at its level."""
    b, _, h, w = images.shape
    theta = stamp_theta(centre, q[f"{key}_half"], q[f"{key}_angle"], h, w)
    mask = F.grid_sample(
        q[f"{key}_texture"],
        sampling_grid(theta, h, w),
        mode="nearest",
        padding_mode="zeros",
        align_corners=False,
    )
    return torch.where(mask > 0.5, q[f"{key}_level"].view(b, 1, 1, 1), images)


def text(key: str):
    """The stamp of glyph block ``key``: beside its landmark when drawn so (and present)."""

    def draw(images: torch.Tensor, q: dict[str, torch.Tensor], xy: torch.Tensor) -> torch.Tensor:
        centre = q[f"{key}_centre"]
        if xy.shape[1]:
            b = images.shape[0]
            pick = q[f"{key}_landmark"].long().view(b, 1, 1).expand(b, 1, 2)
            near = xy.gather(1, pick)[:, 0] + q[f"{key}_offset"]
            use = q[f"{key}_near"][:, None] & torch.isfinite(near)
            centre = torch.where(use, torch.nan_to_num(near), centre)
        return stamp(images, q, key, centre)

    return draw


def fixed_stamp(key: str):
    """A stamp drawn at its own centre (marker, ruler)."""

    def draw(images: torch.Tensor, q: dict[str, torch.Tensor], xy: torch.Tensor) -> torch.Tensor:
        return stamp(images, q, key, q[f"{key}_centre"])

    return draw


def _axes(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = images.shape[-2:]
    ys = torch.arange(h, device=images.device, dtype=images.dtype).view(1, 1, h, 1)
    xs = torch.arange(w, device=images.device, dtype=images.dtype).view(1, 1, 1, w)
    return xs, ys


def seams(images: torch.Tensor, q: dict[str, torch.Tensor], xy: torch.Tensor) -> torch.Tensor:
    """Stitching seams: a gain step below each seam row and a thin line on it."""
    _, ys = _axes(images)
    b = images.shape[0]
    row = q["seam_row"].view(b, 2, 1, 1)
    gain = torch.where(ys > row, q["seam_gain"].view(b, 2, 1, 1), 1.0).prod(1, keepdim=True)
    line = torch.where((ys - row).abs() < 1, q["seam_line"].view(b, 2, 1, 1), 0.0)
    return (images * gain + line.sum(1, keepdim=True)).clamp(0, 1)


def grid_lines(images: torch.Tensor, q: dict[str, torch.Tensor], xy: torch.Tensor) -> torch.Tensor:
    """Anti-scatter grid lines: a faint cosine across (vertical lines) or down the image."""
    xs, ys = _axes(images)
    view = (images.shape[0], 1, 1, 1)
    vertical = q["grid_vertical"].view(view)
    coord = xs * vertical + ys * (1 - vertical)
    wave = torch.cos(2 * math.pi * coord / q["grid_period"].view(view) + q["grid_phase"].view(view))
    return (images + q["grid_amplitude"].view(view) * wave).clamp(0, 1)


def _covered(x, y, border: torch.Tensor, h: int, w: int, view: tuple[int, ...]) -> torch.Tensor:
    top, bottom, left, right = (border[:, i].view(view) for i in range(4))
    return (y < top) | (y > (h - 1) - bottom) | (x < left) | (x > (w - 1) - right)


def border_fill(images: torch.Tensor, q: dict[str, torch.Tensor], xy: torch.Tensor) -> torch.Tensor:
    """Flat borders: ``border`` (B,4) top, bottom, left, right widths in px."""
    h, w = images.shape[-2:]
    xs, ys = _axes(images)
    b = images.shape[0]
    mask = _covered(xs, ys, q["border"], h, w, (b, 1, 1, 1))
    return torch.where(mask, q["border_fill"].view(b, 1, 1, 1), images)


def border_hides(
    xy: torch.Tensor, present: torch.Tensor, border: torch.Tensor, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Landmarks under a border become absent (NaN)."""
    hidden = _covered(xy[..., 0], xy[..., 1], border, h, w, (xy.shape[0], 1))
    present = present & ~hidden
    return torch.where(present[..., None], xy, torch.full_like(xy, float("nan"))), present


def occluder(j: int):
    """A bright ellipse over landmark ``j`` (nothing where it is absent: NaN)."""

    def draw(images: torch.Tensor, q: dict[str, torch.Tensor], xy: torch.Tensor) -> torch.Tensor:
        xs, ys = _axes(images)
        view = (images.shape[0], 1, 1, 1)
        centre = xy[:, j] + q["occluder_jitter"][:, j]
        radii = q["occluder_radii"][:, j]
        dx = (xs - centre[:, 0].view(view)) / radii[:, 0].view(view)
        dy = (ys - centre[:, 1].view(view)) / radii[:, 1].view(view)
        level = q["occluder_level"][:, j].view(view)
        return torch.where(dx * dx + dy * dy <= 1, torch.maximum(images, level), images)

    return draw


def chosen(p: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Which images drew each distractor (bool per image, from the CPU draws)."""
    out = {
        "seam": (p["seam_gain"] != 1).any(1),
        "grid": p["grid_amplitude"] > 0,
        "border": (p["border"] > 0).any(1),
    }
    for key in ("text0", "text1", "marker", "ruler"):
        out[key] = p[f"{key}_texture"].flatten(1).any(1)
    for j in range(k):
        out[f"occluder{j}"] = p["occluder"][:, j]
    return out
