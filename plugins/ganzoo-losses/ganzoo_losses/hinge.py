"""Hinge GAN loss (Lim & Ye 2017; Miyato et al. 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganzoo import DiscriminatorStep, GeneratorStep, LossSpec


class Hinge(LossSpec):
    """D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; G: -E[D(G(z))]."""

    name = "hinge"
    summary = "hinge loss: D minimises relu(1 - D(x)) + relu(1 + D(G(z))), G maximises D(G(z))"
    reference = "Lim & Ye 2017, Geometric GAN (arXiv:1705.02894); Miyato et al. 2018, Spectral Normalization (arXiv:1802.05957)"
    # Miyato et al. 2018, Table 1, setting C (the DCGAN setting, n_dis = 1), under which their
    # hinge-loss standard-CNN results hold up well; it suits the dcgan architecture's BatchNorm.
    recommended = {"train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas": [0.5, 0.999], "train.n_critic": 1}

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return F.relu(1.0 - real_logits.float()).mean() + F.relu(1.0 + fake_logits.float()).mean()

    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        return -fake_logits.float().mean()
