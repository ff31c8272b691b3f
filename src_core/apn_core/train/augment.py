"""Landmark-consistent augmentation of a batch, on the training device.

Strong on purpose (issue 11: a model trained on one renderer's look failed on another's):
geometry (flip with left/right swap, rotation, log-uniform zoom, translation, anisotropy,
restricted views cropped from the top or bottom), processing looks (tone curves, gamma,
windowing, unsharp masking, blur, quantum and electronic noise, bit depth) and distractors
(text, lead markers, rulers, grid lines, stitching seams, borders, metal over landmarks).
:class:`~apn_core.config.AugmentConfig` lists each with its probability and range.

How it is fast and exact:

- every random parameter is drawn on the CPU from a generator seeded by the caller (a few
  numbers per image), the lot moved to the device in ONE copy (pinned, non-blocking on
  CUDA); pixel noise is drawn on the device from a generator seeded the same way. Same seed
  → same augmentation, so a resumed run replays it (bit for bit on CPU);
- each operation runs over the whole batch at once with per-image parameters (identity for
  images that did not draw it) — no Python loop over the images; an operation no image drew
  is skipped, decided from the CPU draws, so nothing reads the device back (no host
  synchronisation per step);
- one resampling for all geometry; landmarks are mapped by the very same matrices.

Absent landmarks are NaN in ``xy`` and False in ``present``; a landmark moved out of the
frame, into a cropped band or under a border becomes absent.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from apn_core.config import AugmentConfig
from apn_core.train import augment_distractors as distract
from apn_core.train import augment_intensity as intensity
from apn_core.train.augment_geometry import apply_geometry, sample_geometry

Op = Callable[..., torch.Tensor]
# the draws each operation reads (prefixes of their names), gathered for its images only
KEYS = {
    "occluder": ("occluder",),
    "seam": ("seam_",),
    "grid": ("grid_",),
    "border": ("border",),
    "text0": ("text0_",),
    "text1": ("text1_",),
    "marker": ("marker_",),
    "ruler": ("ruler_",),
    "blur": ("blur_",),
    "tone": ("tone", "log_k", "sig_"),
    "gamma": ("gamma",),
    "unsharp": ("unsharp_",),
    "contrast": ("contrast",),
    "window": ("window_",),
    "quantise": ("levels",),
}


def to_device(params: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The CPU draws on ``device`` in one copy (pinned and non-blocking on CUDA, so the host
    does not wait for the GPU); unchanged on the CPU. Bool and integer draws round-trip
    exactly through float32."""
    if device.type == "cpu":
        return params
    names = list(params)
    flat = torch.cat([params[n].reshape(-1).float() for n in names])
    if device.type == "cuda":
        flat = flat.pin_memory()
    flat = flat.to(device, non_blocking=True)
    out, start = {}, 0
    for name in names:
        t = params[name]
        part = flat[start : start + t.numel()].view(t.shape)
        start += t.numel()
        out[name] = part if t.dtype == torch.float32 else part.to(t.dtype)
    return out


class Augmenter:
    """``augmenter(images, xy, present, seed)`` → augmented copies (see the module doc)."""

    def __init__(self, config: AugmentConfig, flip_permutation: list[int]) -> None:
        self.config = config
        self.perm = torch.tensor(flip_permutation, dtype=torch.long)
        self._perm_on: dict[torch.device, torch.Tensor] = {}

    def sample(self, b: int, h: int, w: int, k: int, seed: int) -> dict[str, torch.Tensor]:
        """Every per-image draw of one batch, on the CPU (deterministic in ``seed``), and
        ``sel_<op>``: the indices of the images that drew each operation."""
        gen = torch.Generator().manual_seed(seed)
        cfg = self.config
        p = {
            **sample_geometry(cfg, b, h, w, gen),
            **intensity.sample_intensity(cfg, b, gen),
            **distract.sample_distractors(cfg, b, h, w, k, gen),
        }
        chosen = {name: pick(p) for name, _, pick in intensity.PROCESSING}
        chosen["quantise"] = p["levels"] > 0
        chosen.update(distract.chosen(p, k))
        for name, mask in chosen.items():
            p[f"sel_{name}"] = mask.nonzero().view(-1)
        return p

    @staticmethod
    def summary(p: dict[str, torch.Tensor]) -> dict:
        """What the host needs to know of the draws (from the CPU tensors, so nothing is
        read back from the device): how many images drew each operation, the widest and
        narrowest blur of those that did, and whether any view was cropped."""
        out: dict = {k[4:]: len(v) for k, v in p.items() if k.startswith("sel_")}
        for name, key in (("blur", "blur_sigma"), ("unsharp", "unsharp_radius")):
            values = p[key].numpy()[p[f"sel_{name}"].numpy()]
            out[f"max_{name}"] = float(values.max(initial=0))
            out[f"min_{name}"] = float(values.min(initial=np.inf)) if len(values) else 0.0
        out["any_crop"] = bool((p["cut_top"] + p["cut_bottom"]).numpy().any())
        return out

    def __call__(
        self, images: torch.Tensor, xy: torch.Tensor, present: torch.Tensor, seed: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``images`` (B,1,H,W) float 0–1, ``xy`` (B,K,2) input px (NaN unless present),
        ``present`` (B,K) bool → augmented ``(images, xy, present)``, float32 images in 0–1."""
        b, _, h, w = images.shape
        k = xy.shape[1]
        device = images.device
        cpu = self.sample(b, h, w, k, seed)
        host = self.summary(cpu)
        p = to_device(cpu, device)
        perm = self._perm_on.get(device)
        if perm is None:
            perm = self._perm_on[device] = self.perm.to(device)
        images, xy, present = apply_geometry(
            images.float(), xy.float(), present, perm, p, host["any_crop"]
        )

        def run(name: str, op: Op, *args) -> torch.Tensor:
            return _on_subset(images, xy, p, host, name, op, *args)

        for j in range(k):
            images = run(f"occluder{j}", distract.occluder(j))
        images = run("seam", distract.seams)
        images = run("grid", distract.grid_lines)
        for name, op, _ in intensity.PROCESSING:
            images = run(name, lambda im, q, _xy, op=op: op(im, q, host))
        images = intensity.noise(images, p, torch.Generator(device=device).manual_seed(seed))
        images = run("border", distract.border_fill)
        if host["border"]:
            xy, present = distract.border_hides(xy, present, p["border"], h, w)
        for key in ("text0", "text1"):
            images = run(key, distract.text(key))
        images = run("marker", distract.fixed_stamp("marker"))
        images = run("ruler", distract.fixed_stamp("ruler"))
        images = run("quantise", lambda im, q, _xy: intensity.quantise(im, q, host))
        return images.clamp(0, 1), xy, present


def _on_subset(
    images: torch.Tensor,
    xy: torch.Tensor,
    p: dict[str, torch.Tensor],
    host: dict,
    name: str,
    op: Op,
) -> torch.Tensor:
    """``op(images, params, xy)`` on the images that drew ``name`` only (all at once):
    skipped when none did, on the whole batch when all did, else gathered and put back."""
    n, b = host[name], images.shape[0]
    if n == 0:
        return images
    if n == b:
        return op(images, p, xy)
    idx = p[f"sel_{name}"]
    keys = KEYS[name.rstrip("0123456789") if name.startswith("occluder") else name]
    q = {k: v.index_select(0, idx) for k, v in p.items() if k.startswith(keys)}
    return images.index_copy(0, idx, op(images.index_select(0, idx), q, xy.index_select(0, idx)))
