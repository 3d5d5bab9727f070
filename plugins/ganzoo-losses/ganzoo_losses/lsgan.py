"""Least-squares GAN loss (Mao et al. 2017)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import torch

from ganzoo import DiscriminatorStep, GeneratorStep, LossSpec, Option


class LeastSquares(LossSpec):
    """D: 0.5 E[(D(x) - b)^2] + 0.5 E[(D(G(z)) - a)^2]; G: 0.5 E[(D(G(z)) - c)^2].

    Defaults a = 0, b = c = 1 (the paper's 0-1 coding); a = -1, b = 1, c = 0 is its Pearson
    chi^2 variant.
    """

    name = "lsgan"
    summary = "least-squares GAN: D regresses real to b and fake to a, G pushes fake towards c"
    reference = "Mao et al. 2017, Least Squares Generative Adversarial Networks (arXiv:1611.04076)"
    options = {
        "a": Option(0.0, "discriminator target for fake samples"),
        "b": Option(1.0, "discriminator target for real samples"),
        "c": Option(1.0, "value the generator wants the discriminator to give its samples"),
    }
    # Adam(2e-4, beta1 = 0.5) as in DCGAN, the setting LSGAN's experiments build on.
    recommended = {"train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas": [0.5, 0.999], "train.n_critic": 1}
    opts: Mapping[str, Any] = MappingProxyType({k: o.default for k, o in options.items()})

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        a, b = float(self.opts["a"]), float(self.opts["b"])
        return 0.5 * (real_logits.float() - b).pow(2).mean() + 0.5 * (fake_logits.float() - a).pow(2).mean()

    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        c = float(self.opts["c"])
        return 0.5 * (fake_logits.float() - c).pow(2).mean()
