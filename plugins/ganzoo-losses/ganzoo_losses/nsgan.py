"""Non-saturating GAN loss (Goodfellow et al. 2014)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganzoo import DiscriminatorStep, GeneratorStep, LossSpec


class NonSaturating(LossSpec):
    name = "ns-gan"
    summary = "non-saturating GAN loss: D minimises BCE, G maximises log D(G(z))"
    reference = "Goodfellow et al. 2014, Generative Adversarial Nets"
    recommended = {"train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas": [0.5, 0.999], "train.n_critic": 1}

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()
