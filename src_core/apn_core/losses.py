r"""Losses of Adversarial PoseNet, exactly as implemented.

Notation per sample *b* and landmark *k*: ``w[b,k]`` = 1 if annotated (present *or*
absent), 0 if not annotated (masked everywhere). Means are over entries with ``w = 1``.

Heatmap loss (all stacks, intermediate supervision; absent → all-zero target), with
the pixels of the target peak weighted up by γ (``foreground_weight``; γ = 0 is plain
MSE) because a heatmap is almost all background and plain MSE first learns to predict
flat blobs::

    L_MSE = Σ_stacks mean_{b,k: w=1} mean_{pixels} (1 + γ·y[b,k]) · (G(x)_s[b,k] − y[b,k])²

Discriminator targets for a generated heatmap (computed from the current prediction,
without gradient)::

    p_fake[b,k] = c_fake[b,k] = 1  if  present and ‖decode(G(x))[b,k] − truth‖ ≤ tolerance (mm)
                                     or absent and max G(x)[b,k] < presence threshold
                                0  otherwise

Discriminator loss (P shown; C is the same without the image), minimised by P::

    L_P = − mean_{w=1} [ log P(y, x) + log(1 − |P(G(x), x) − p_fake|) ]

i.e. real heatmaps are labelled 1, and a generated heatmap is labelled with how good it
is — P learns to tell *correct* from *wrong* landmarks, not real from generated.

Generator loss::

    L_G = L_MSE + β · L_adv^P + α · L_adv^C,    L_adv^P = − mean_{w=1} log P(G(x), x)

The adversarial terms use the standard non-saturating form (G is rewarded when a
discriminator judges its landmark correct) instead of minimising the literal minimax
term ``log(1 − |P(G(x),x) − p_fake|)``, which would push G to make its already-correct
landmarks look wrong to P and whose gradient vanishes when P is confident.
"""

from __future__ import annotations

import torch

EPS = 1e-6


def masked_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` (B, K) over entries with ``weight`` 1; 0 if none."""
    return (values * weight).sum() / weight.sum().clamp_min(1.0)


def heatmap_loss(
    outputs: list[torch.Tensor],
    target: torch.Tensor,
    weight: torch.Tensor,
    foreground_weight: float = 0.0,
) -> torch.Tensor:
    """``L_MSE`` summed over stacks; ``weight`` (B, K) masks not-annotated landmarks."""
    total = target.new_zeros(())
    pixel_weight = 1.0 + foreground_weight * target
    for out in outputs:
        per_map = (pixel_weight * (out.float() - target) ** 2).mean(dim=(-2, -1))
        total = total + masked_mean(per_map, weight)
    return total


def discriminator_targets(
    pred_xy: torch.Tensor,
    peak: torch.Tensor,
    true_xy: torch.Tensor,
    present: torch.Tensor,
    mm_per_px: torch.Tensor,
    tolerance_mm: float,
    presence_threshold: float,
) -> torch.Tensor:
    """``p_fake``/``c_fake`` (B, K) in {0, 1}; ``mm_per_px`` is (B, 2) (row, col) per input px."""
    d = pred_xy - torch.nan_to_num(true_xy)
    err = torch.sqrt(
        (d[..., 0] * mm_per_px[:, None, 1]) ** 2 + (d[..., 1] * mm_per_px[:, None, 0]) ** 2
    )
    hit = (err <= tolerance_mm) & (peak >= presence_threshold)
    return torch.where(present, hit, peak < presence_threshold).float()


def discriminator_loss(
    d_real: torch.Tensor, d_fake: torch.Tensor, target_fake: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """``L_P`` (or ``L_C``): real → 1; generated → ``target_fake`` (B, K)."""
    real = -torch.log(d_real.clamp(EPS, 1.0))
    fake = -torch.log((1.0 - (d_fake - target_fake).abs()).clamp(EPS, 1.0))
    return masked_mean(real + fake, weight)


def generator_adversarial_loss(d_fake: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Non-saturating ``−log D(G(x))`` over annotated landmarks."""
    return masked_mean(-torch.log(d_fake.clamp(EPS, 1.0)), weight)
