"""Wasserstein GAN losses: weight clipping (Arjovsky et al. 2017) and gradient penalty
(Gulrajani et al. 2017)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from ganzoo import DiscriminatorStep, GeneratorStep, LossSpec, Option, StepContext
from ganzoo_losses.penalty import gradient_penalty


def _critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return fake_logits.float().mean() - real_logits.float().mean()


class _Wasserstein(LossSpec):
    """The Wasserstein critic and generator objectives shared by ``wgan`` and ``wgan-gp``."""

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return _critic_loss(real_logits, fake_logits)

    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        return -fake_logits.float().mean()


class WGAN(_Wasserstein):
    """The critic maximises E[D(x)] - E[D(G(z))]; Lipschitz continuity by weight clipping."""

    name = "wgan"
    summary = "Wasserstein GAN: critic loss E[D(G(z))] - E[D(x)], weights clipped to [-clip, clip]"
    reference = "Arjovsky, Chintala & Bottou 2017, Wasserstein GAN (arXiv:1701.07875)"
    options = {
        "clip": Option(0.01, "clip every discriminator parameter to [-clip, clip] after each step (0: off)", minimum=0.0),
    }
    # The paper: RMSProp, lr 5e-5, n_critic 5. Adam with beta1 = 0 and beta2 = 0.99 is RMSProp with
    # the reference code's smoothing (alpha 0.99) plus bias correction: no momentum, which the paper
    # found unstable for the critic.
    recommended = {"train.lr_g": 5e-5, "train.lr_d": 5e-5, "train.betas": [0.0, 0.99], "train.n_critic": 5}
    opts: Mapping[str, Any] = MappingProxyType({k: o.default for k, o in options.items()})


    def after_discriminator_step(self, discriminator: nn.Module, ctx: StepContext) -> None:
        c = float(self.opts["clip"])
        if c <= 0:
            return
        with torch.no_grad():
            for p in discriminator.parameters():
                p.clamp_(-c, c)


class WGANGP(_Wasserstein):
    """Wasserstein loss with a gradient penalty on real/fake interpolates instead of clipping."""

    name = "wgan-gp"
    summary = "WGAN with gradient penalty: critic loss + gp_weight * (||grad D(x_hat)||_2 - 1)^2"
    reference = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs (arXiv:1704.00028)"
    batch_norm_ok = False
    options = {
        "gp_weight": Option(10.0, "weight (lambda) of the gradient penalty (0: off)", minimum=0.0),
    }
    # Algorithm 1 of the paper: Adam(1e-4, beta1 = 0, beta2 = 0.9), n_critic = 5.
    recommended = {"train.lr_g": 1e-4, "train.lr_d": 1e-4, "train.betas": [0.0, 0.9], "train.n_critic": 5}
    opts: Mapping[str, Any] = MappingProxyType({k: o.default for k, o in options.items()})


    def penalty(self, ctx: DiscriminatorStep) -> torch.Tensor | None:
        weight = float(self.opts["gp_weight"])
        if weight == 0:
            return None
        labels = ctx.real_labels

        def critic(x: torch.Tensor) -> torch.Tensor:  # a conditional critic judges interpolates with the real labels
            return ctx.discriminator(x) if labels is None else ctx.discriminator(x, labels)

        return gradient_penalty(critic, ctx.real, ctx.fake, weight=weight)
