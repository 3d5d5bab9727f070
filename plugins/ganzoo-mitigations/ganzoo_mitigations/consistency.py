"""Balanced consistency regularisation, bCR (Zhao, Singh, Lee, Zhang, Odena & Zhang 2020)."""

from __future__ import annotations

import torch

from ganzoo import DiscriminatorStep, Option, SetupContext
from ganzoo_mitigations.base import Mitigation
from ganzoo_mitigations.diffaugment import rand_translation, require_images


def random_flip(x: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Flip each image horizontally with probability ``p``."""
    mask = torch.rand(x.shape[0], device=x.device) < p
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)


def cr_augment(x: torch.Tensor) -> torch.Tensor:
    """bCR's T: a random horizontal flip (p = 0.5), then a translation by up to 1/8 of each side with zero
    padding (the CR/bCR "flipping and shifting by a few pixels": 4 px at 32 px, as PyTorch-StudioGAN's
    ``apply_cr_aug``)."""
    return rand_translation(random_flip(x)).contiguous()


class Consistency(Mitigation):
    """Adds ``lambda_real * E[(D(x) - D(T(x)))^2] + lambda_fake * E[(D(G(z)) - D(T(G(z))))^2]`` to D's loss
    (the paper's bCR, Algorithm 1), T a random flip and translation; gradients flow through
    both terms of each difference. ``x`` and ``G(z)`` are the batches as D sees them (after the other
    mitigations' transforms and packing); D(x) and D(G(z)) are the logits D's loss already used."""

    name = "consistency"
    summary = "bCR: D penalised for changing its output under flip + translation of real and fake images (Zhao et al. 2020)"
    reference = "Zhao, Singh, Lee, Zhang, Odena & Zhang 2020, Improved Consistency Regularization for GANs (arXiv:2002.04724)"
    options = {
        "lambda_real": Option(10.0, "weight of the real consistency term (the paper's 10)", minimum=0.0),
        "lambda_fake": Option(10.0, "weight of the fake consistency term (the paper's 10)", minimum=0.0),
    }

    def check(self, ctx: SetupContext) -> None:
        require_images(self.name, ctx)

    def discriminator_regularizer(self, ctx: DiscriminatorStep) -> torch.Tensor | None:
        lam_r, lam_f = float(self.opts["lambda_real"]), float(self.opts["lambda_fake"])
        if ctx.real.dim() != 4 or lam_r == lam_f == 0:
            return None
        total = torch.zeros((), device=ctx.real.device)
        for lam, x, logits, labels in ((lam_r, ctx.real, ctx.real_logits, ctx.real_labels),
                                       (lam_f, ctx.fake, ctx.fake_logits, ctx.fake_labels)):
            if lam == 0:
                continue
            tx = cr_augment(x.detach().float())
            out = (ctx.discriminator(tx) if labels is None else ctx.discriminator(tx, labels)).float()
            total = total + lam * (logits.float() - out).pow(2).mean()
        return total
