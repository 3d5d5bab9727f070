"""R2 gradient penalty on generated data (Mescheder, Geiger & Nowozin 2018; R3GAN, Huang et al. 2024)."""

from __future__ import annotations

import torch

from ganzoo import DiscriminatorStep, Option
from ganzoo_mitigations.base import Mitigation
from ganzoo_mitigations.r1 import r1_penalty


class R2(Mitigation):
    """Adds ``gamma/2 * E||grad_x D(x)||^2`` over the fake batch (as D sees it, with the fakes' labels) to
    D's loss: R1's zero-centred penalty, on generated instead of real data. ``--mitigation r1 --mitigation
    r2`` with ``--loss rpgan`` is R3GAN's objective (R1 and R2 with the same gamma)."""

    name = "r2"
    summary = "R2 zero-centred gradient penalty on fake data: gamma/2 * E||grad D(G(z))||^2 (Mescheder et al. 2018; R3GAN, Huang et al. 2024)"
    reference = ("Mescheder, Geiger & Nowozin 2018, Which Training Methods for GANs do actually Converge? "
                 "(arXiv:1801.04406, R2); Huang et al. 2024, The GAN is dead; long live the GAN! (R3GAN, arXiv:2501.05441)")
    batch_norm_ok = False
    options = {
        "gamma": Option(10.0, "penalty weight gamma (as r1's default; R3GAN uses 0.05 on CIFAR-10 with r1 at the same value)",
                        minimum=0.0),
        "every": Option(1, "apply every k steps with weight x k (lazy regularisation)", minimum=1, maximum=10_000),
    }

    def discriminator_regularizer(self, step: DiscriminatorStep) -> torch.Tensor | None:
        gamma, every = float(self.opts["gamma"]), int(self.opts["every"])
        if gamma == 0 or step.step % every:
            return None
        return (gamma / 2 * every) * r1_penalty(step.discriminator, step.fake, step.fake_labels)
