"""LeCam regularisation (Tseng, Jiang, Liu, Yang & Yang 2021)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from ganzoo import DiscriminatorStep, Option
from ganzoo_mitigations.base import Mitigation


def lecam_term(real_logits: torch.Tensor, fake_logits: torch.Tensor, ema_real: float, ema_fake: float) -> torch.Tensor:
    """``E[relu(D(x_r) - alpha_F)^2] + E[relu(alpha_R - D(x_f))^2]`` (the official code's ``lecam_reg``)."""
    return F.relu(real_logits.float() - ema_fake).pow(2).mean() + F.relu(ema_real - fake_logits.float()).pow(2).mean()


class LeCam(Mitigation):
    """Adds ``weight * R_LC`` to D's loss, ``R_LC = E[relu(D(x_r) - alpha_F)^2] + E[relu(alpha_R - D(x_f))^2]``,
    where ``alpha_R`` and ``alpha_F`` are exponential moving averages (decay 0.99) of D's mean output on
    real and fake batches (the paper's anchors alpha_R, alpha_F of R_LC; the one-sided, squared-relu form
    is the official code's ``lecam_reg``). As in that code (``google/lecam-gan``, BigGAN CIFAR): the EMAs are updated with
    the current batch means in every discriminator update *before* the term is computed; during the first
    ``start`` generator steps they follow the current batch (decay 0) and the term is off (the code's
    ``ema_losses(start_itr=1000)``); the weight is 0.3 (the code's ``--LC 0.3`` for CIFAR-10).
    The EMAs are kept in :meth:`state_dict`. As with ``ada``, the simulated D updates of ``unrolled`` also
    update the EMAs."""

    name = "lecam"
    summary = "LeCam: D's outputs anchored to EMAs of its real/fake outputs, weight * E[relu(D(x_r)-a_F)^2 + relu(a_R-D(x_f))^2] (Tseng et al. 2021)"
    reference = "Tseng, Jiang, Liu, Yang & Yang 2021, Regularizing Generative Adversarial Networks under Limited Data (arXiv:2104.03310)"
    options = {
        "weight": Option(0.3, "weight lambda of the term (the official CIFAR-10 value, --LC 0.3)", minimum=0.0),
        "decay": Option(0.99, "decay of the EMAs of D's mean real and fake outputs", minimum=0.0, maximum=1.0),
        "start": Option(1000, "generator steps during which the EMAs follow the batch means and the term is off "
                              "(the official code's start_itr = 1000)", minimum=0),
    }

    ema_real: float = 0.0
    ema_fake: float = 0.0
    initialized: bool = False

    def with_options(self, values: Mapping[str, Any] | None = None, *, prefix: str | None = None) -> LeCam:
        configured = super().with_options(values, prefix=prefix)
        configured.ema_real, configured.ema_fake, configured.initialized = 0.0, 0.0, False
        return configured

    def update(self, real_mean: float, fake_mean: float, step: int) -> None:
        """One EMA update; ``step`` is the number of generator steps completed (the code's itr - 1)."""
        decay = float(self.opts["decay"]) if self.initialized and step + 1 >= int(self.opts["start"]) else 0.0
        self.ema_real = decay * self.ema_real + (1 - decay) * real_mean
        self.ema_fake = decay * self.ema_fake + (1 - decay) * fake_mean
        self.initialized = True

    def discriminator_regularizer(self, ctx: DiscriminatorStep) -> torch.Tensor | None:
        weight = float(self.opts["weight"])
        self.update(float(ctx.real_logits.detach().float().mean()), float(ctx.fake_logits.detach().float().mean()), ctx.step)
        if weight == 0 or ctx.step + 1 <= int(self.opts["start"]):
            return None
        return weight * lecam_term(ctx.real_logits, ctx.fake_logits, self.ema_real, self.ema_fake)

    def state_dict(self) -> dict[str, Any]:
        return {"ema_real": float(self.ema_real), "ema_fake": float(self.ema_fake), "initialized": bool(self.initialized)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.ema_real = float(state.get("ema_real", self.ema_real))
        self.ema_fake = float(state.get("ema_fake", self.ema_fake))
        self.initialized = bool(state.get("initialized", self.initialized))
