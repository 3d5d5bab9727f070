"""Relativistic GAN losses: relativistic average (Jolicoeur-Martineau 2018) and relativistic pairing
(R3GAN, Huang et al. 2024).

``C(x)`` is the discriminator's raw output (the critic); every loss here compares the critic on real
data with the critic on fake data, so the generator's term needs the real logits too
(``needs_real_logits = True``: the engine then computes D on a fresh real batch in the G update).

Relativistic average (RaGAN), Jolicoeur-Martineau 2018 (arXiv:1807.00734), Section 4.3 and the list
of the loss functions used in its experiments (RaSGAN, RaLSGAN, RaHingeGAN), with
``D~(x_r) = C(x_r) - E_f[C(x_f)]`` and ``D~(x_f) = C(x_f) - E_r[C(x_r)]``; the generator's loss is the
discriminator's with the roles of real and fake swapped. The losses are written as in the paper, without
the factor 1/2 that the author's code (``code/GAN_losses_iter.py``, ``loss_D`` 6, 7, 8) puts in front of
each player's loss (a constant factor that Adam's normalisation absorbs).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F

from ganzoo import DiscriminatorStep, GeneratorStep, LossSpec

RAGAN_REFERENCE = ("Jolicoeur-Martineau 2018, The relativistic discriminator: a key element missing from standard GAN "
                   "(arXiv:1807.00734)")
# The paper's standard CIFAR-10 setting (its DCGAN-style baseline): Adam with lr 2e-4, beta = (0.5, 0.999) and one
# discriminator update per generator update (n_D = 1, the setting in which RaGANs need no extra D steps).
RAGAN_RECOMMENDED: Mapping[str, Any] = MappingProxyType(
    {"train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas": [0.5, 0.999], "train.n_critic": 1}
)


def _required_real(real_logits: torch.Tensor | None, name: str) -> torch.Tensor:
    if real_logits is None:
        raise ValueError(f"loss {name!r}: generator_loss needs the real logits (needs_real_logits = True)")
    return real_logits.float()


class _Relativistic(LossSpec):
    """The shape every relativistic average loss shares: ``D = g(real, fake)``, ``G = g(fake, real)``."""

    needs_real_logits = True
    recommended = RAGAN_RECOMMENDED
    reference = RAGAN_REFERENCE
    opts: Mapping[str, Any] = MappingProxyType({})

    def _objective(self, winners: torch.Tensor, losers: torch.Tensor) -> torch.Tensor:
        """The loss of the player that wants ``winners`` judged more real than ``losers``."""
        raise NotImplementedError

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return self._objective(real_logits.float(), fake_logits.float())

    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        return self._objective(fake_logits.float(), _required_real(real_logits, self.name))


class RaGAN(_Relativistic):
    """Relativistic average standard GAN (RaSGAN), non-saturating:

    ``L_D = -E_r[log sigma(C(x_r) - E_f C(x_f))] - E_f[log(1 - sigma(C(x_f) - E_r C(x_r)))]``
    ``L_G = -E_f[log sigma(C(x_f) - E_r C(x_r))] - E_r[log(1 - sigma(C(x_r) - E_f C(x_f)))]``

    computed stably as ``softplus(-a) = -log sigma(a)`` and ``softplus(a) = -log(1 - sigma(a))``.
    """

    name = "ragan"
    summary = "relativistic average GAN (RaSGAN): D judges whether real data is more real than fake data on average (Jolicoeur-Martineau 2018)"

    def _objective(self, winners: torch.Tensor, losers: torch.Tensor) -> torch.Tensor:
        return F.softplus(-(winners - losers.mean())).mean() + F.softplus(losers - winners.mean()).mean()


class RaHinge(_Relativistic):
    """Relativistic average hinge GAN (RaHingeGAN):

    ``L_D = E_r[relu(1 - (C(x_r) - E_f C(x_f)))] + E_f[relu(1 + (C(x_f) - E_r C(x_r)))]``
    ``L_G = E_f[relu(1 - (C(x_f) - E_r C(x_r)))] + E_r[relu(1 + (C(x_r) - E_f C(x_f)))]``
    """

    name = "rahinge"
    summary = "relativistic average hinge GAN: hinge loss on C(x_r) - E[C(x_f)] and C(x_f) - E[C(x_r)] (Jolicoeur-Martineau 2018)"

    def _objective(self, winners: torch.Tensor, losers: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - (winners - losers.mean())).mean() + F.relu(1.0 + (losers - winners.mean())).mean()


class RaLSGAN(_Relativistic):
    """Relativistic average least-squares GAN (RaLSGAN), the paper's form (targets +1 and -1):

    ``L_D = E_r[(C(x_r) - E_f C(x_f) - 1)^2] + E_f[(C(x_f) - E_r C(x_r) + 1)^2]``
    ``L_G = E_f[(C(x_f) - E_r C(x_r) - 1)^2] + E_r[(C(x_r) - E_f C(x_f) + 1)^2]``

    No factor 1/2 (the author's code halves both players' losses, see the module docstring).
    """

    name = "ralsgan"
    summary = "relativistic average LSGAN: (C(x_r) - E[C(x_f)] - 1)^2 + (C(x_f) - E[C(x_r)] + 1)^2 (Jolicoeur-Martineau 2018)"

    def _objective(self, winners: torch.Tensor, losers: torch.Tensor) -> torch.Tensor:
        return (winners - losers.mean() - 1.0).pow(2).mean() + (losers - winners.mean() + 1.0).pow(2).mean()


class RpGAN(_Relativistic):
    """Relativistic pairing GAN (RpGAN) as R3GAN uses it, each real sample paired with one fake sample:

    ``L_D = E[softplus(-(C(x_r) - C(x_f)))]``, ``L_G = E[softplus(-(C(x_f) - C(x_r)))]``

    (Huang, Gokaslan, Kuleshov & Tompkin 2024, eq. of the RpGAN objective with f = -softplus(-t); the
    official code's ``AccumulateGeneratorGradients``/``AccumulateDiscriminatorGradients``). The i-th real
    logit is paired with the i-th fake logit; when the engine hands batches of different sizes (a short
    last batch) the longer one is cut to the shorter. R3GAN adds R1 and R2 with gamma = 0.05 on CIFAR-10:
    ``--mitigation r1 --mitigation r2`` (``gamma`` of each).
    """

    name = "rpgan"
    summary = "relativistic pairing GAN (R3GAN): softplus(C(x_f) - C(x_r)) per real/fake pair; with r1 + r2 (R3GAN, Huang et al. 2024)"
    reference = ("Huang, Gokaslan, Kuleshov & Tompkin 2024, The GAN is dead; long live the GAN! A Modern GAN Baseline "
                 "(R3GAN, arXiv:2501.05441); Jolicoeur-Martineau 2018 (RpGAN, arXiv:1807.00734)")
    # R3GAN's configurations: Adam with beta = (0, 0.99) and lr 2e-4 (CIFAR-10; the paper then decays lr and gamma
    # on a cosine schedule, which the engine does not do), one D update per G update.
    recommended = MappingProxyType({"train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas": [0.0, 0.99],
                                    "train.n_critic": 1})

    def _objective(self, winners: torch.Tensor, losers: torch.Tensor) -> torch.Tensor:
        n = min(winners.shape[0], losers.shape[0])
        return F.softplus(-(winners[:n] - losers[:n])).mean()
