"""R1 gradient penalty on real data (Mescheder, Geiger & Nowozin 2018)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganzoo import DiscriminatorStep, Option
from ganzoo_mitigations.base import Mitigation


def r1_penalty(discriminator: Callable[..., torch.Tensor], real: torch.Tensor,
               labels: torch.Tensor | None = None) -> torch.Tensor:
    """``E_x ||grad_x D(x)||^2`` over the (prepared) real batch, differentiable (create_graph)."""
    x = real.detach().float().requires_grad_(True)
    out = (discriminator(x) if labels is None else discriminator(x, labels)).float()
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


class R1(Mitigation):
    """Adds ``gamma/2 * E||grad_x D(x)||^2`` on real data to D's loss. With ``every = k > 1`` the term
    is only added on steps divisible by k, weighted by k (StyleGAN2's lazy regularisation)."""

    name = "r1"
    summary = "R1 zero-centred gradient penalty on real data: gamma/2 * E||grad D(x)||^2"
    reference = "Mescheder, Geiger & Nowozin 2018, Which Training Methods for GANs do actually Converge? (arXiv:1801.04406)"
    batch_norm_ok = False
    options = {
        "gamma": Option(10.0, "penalty weight gamma (the paper's value for most experiments)", minimum=0.0),
        "every": Option(1, "apply every k steps with weight x k (lazy regularisation, StyleGAN2 uses 16)", minimum=1,
                        maximum=10_000),
    }

    def discriminator_regularizer(self, step: DiscriminatorStep) -> torch.Tensor | None:
        gamma, every = float(self.opts["gamma"]), int(self.opts["every"])
        if gamma == 0 or step.step % every:
            return None
        return (gamma / 2 * every) * r1_penalty(step.discriminator, step.real, step.real_labels)
