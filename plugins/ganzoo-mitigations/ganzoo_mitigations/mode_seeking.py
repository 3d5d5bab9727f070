"""Mode-seeking regularisation (Mao et al. 2019, MSGAN)."""

from __future__ import annotations

import torch

from ganzoo import GeneratorStep, Option, SetupContext
from ganzoo.errors import IncompatibleError
from ganzoo_mitigations.base import Mitigation


def mode_seeking_term(z: torch.Tensor, fake: torch.Tensor, weight: float, eps: float) -> torch.Tensor:
    """``weight / (mean|G(z1) - G(z2)| / mean|z1 - z2| + eps)`` for the two halves of the batch
    (an odd last sample is left out), as in the MSGAN code."""
    h = z.shape[0] // 2
    z1, z2, f1, f2 = z[:h], z[h:2 * h], fake[:h].float(), fake[h:2 * h].float()
    lz = (f1 - f2).abs().mean() / (z1 - z2).abs().mean().float()
    return weight / (lz + eps)


class ModeSeeking(Mitigation):
    """Adds ``lambda / (d(G(z1), G(z2)) / d(z1, z2) + eps)`` (L1 means) to G's loss: the generator is
    rewarded for mapping distinct latents to distinct samples."""

    name = "mode-seeking"
    summary = "MSGAN mode-seeking term: G minimises lambda / (mean|G(z1)-G(z2)| / mean|z1-z2| + eps)"
    reference = "Mao, Lee, Tseng, Ma & Yang 2019, Mode Seeking GANs for Diverse Image Synthesis (arXiv:1903.05628)"
    options = {
        "weight": Option(1.0, "weight lambda of the term (MSGAN default 1)", minimum=0.0),
        "eps": Option(1e-5, "eps in the denominator (MSGAN code: 1e-5)", minimum=0.0),
    }

    def check(self, ctx: SetupContext) -> None:
        if ctx.batch_size < 2:
            raise IncompatibleError(f"mode-seeking: needs a batch size of at least 2 (two halves), got {ctx.batch_size}")

    def generator_regularizer(self, step: GeneratorStep) -> torch.Tensor | None:
        weight = float(self.opts["weight"])
        if weight == 0 or step.z.shape[0] < 2:
            return None
        return mode_seeking_term(step.z, step.fake, weight, float(self.opts["eps"]))
