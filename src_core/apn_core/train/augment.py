"""Landmark-consistent augmentation of a batch, on the training device.

Geometric: horizontal flip with left/right landmark swap, then kornia's ``RandomAffine``
(rotation, scale, translation) applied to images and keypoints together. A landmark moved
out of the frame becomes *absent* (as in a restricted view). Photometric: gamma, contrast,
Gaussian noise. Occluders: bright metal-like ellipses over random landmarks, which stay
*present* — the model must localise under them.

All randomness comes from torch's global generator, seeded per step by the caller, so a
resumed run replays the same augmentations.
"""

from __future__ import annotations

import torch

from apn_core.config import AugmentConfig


class Augmenter:
    def __init__(self, config: AugmentConfig, flip_permutation: list[int]) -> None:
        import kornia.augmentation as K

        self.config = config
        self.perm = torch.tensor(flip_permutation)
        self.affine = K.AugmentationSequential(
            K.RandomAffine(
                degrees=config.rotation_deg,
                translate=(config.translate, config.translate),
                scale=config.scale,
                p=1.0,
            ),
            data_keys=["input", "keypoints"],
        )

    def __call__(
        self, images: torch.Tensor, xy: torch.Tensor, present: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``images`` (B,1,H,W) float 0–1, ``xy`` (B,K,2) NaN unless present → augmented copies."""
        cfg = self.config
        b, _, h, w = images.shape
        images, xy, present = images.clone(), xy.clone(), present.clone()
        flip = torch.rand(b, device=images.device) < cfg.flip_prob
        if flip.any():
            perm = self.perm.to(images.device)
            images[flip] = images[flip].flip(-1)
            flipped = xy[flip][:, perm]
            flipped[..., 0] = (w - 1) - flipped[..., 0]
            xy[flip] = flipped
            present[flip] = present[flip][:, perm]
        images, xy = self.affine(images, xy)
        inside = (
            (xy[..., 0] >= 0) & (xy[..., 0] <= w - 1) & (xy[..., 1] >= 0) & (xy[..., 1] <= h - 1)
        )
        present = present & inside
        xy = torch.where(present[..., None], xy, torch.full_like(xy, float("nan")))
        images = self._occlude(images, xy, present)
        return self._photometric(images), xy, present

    def _photometric(self, images: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        b = images.shape[0]
        shape = (b, 1, 1, 1)
        gamma = torch.empty(shape, device=images.device).uniform_(*cfg.gamma)
        images = images.clamp(0, 1) ** gamma
        contrast = torch.empty(shape, device=images.device).uniform_(*cfg.contrast)
        mean = images.mean(dim=(-2, -1), keepdim=True)
        images = (images - mean) * contrast + mean
        images = images + cfg.noise_std * torch.rand(
            shape, device=images.device
        ) * torch.randn_like(images)
        return images.clamp(0, 1)

    def _occlude(
        self, images: torch.Tensor, xy: torch.Tensor, present: torch.Tensor
    ) -> torch.Tensor:
        b, k = present.shape
        h, w = images.shape[-2:]
        chosen = (torch.rand(b, device=images.device) < self.config.occluder_prob)[
            :, None
        ] & present
        chosen &= torch.rand(b, k, device=images.device) < 0.5
        if not chosen.any():
            return images
        ys = torch.arange(h, device=images.device).view(1, h, 1)
        xs = torch.arange(w, device=images.device).view(1, 1, w)
        bi, ki = chosen.nonzero(as_tuple=True)
        centre = xy[bi, ki] + torch.randn(len(bi), 2, device=images.device) * 2.0
        radii = torch.empty(len(bi), 2, device=images.device).uniform_(0.012 * h, 0.03 * h)
        q = ((xs - centre[:, 0, None, None]) / radii[:, 0, None, None]) ** 2 + (
            (ys - centre[:, 1, None, None]) / radii[:, 1, None, None]
        ) ** 2
        level = torch.empty(len(bi), 1, 1, device=images.device).uniform_(0.85, 1.0)
        masks = torch.where(q <= 1, level, torch.zeros_like(q)).to(images.dtype)
        # each occluder brightens its own image: lay them out per (image, landmark) and take
        # the maximum over landmarks and the image, all at once
        layers = images.new_zeros(b, k, h, w)
        layers[bi, ki] = masks
        return torch.maximum(images, layers.amax(dim=1, keepdim=True))
