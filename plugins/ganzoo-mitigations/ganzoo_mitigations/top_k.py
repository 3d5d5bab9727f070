"""Top-k generator updates (Sinha, Zhao, Goyal, Raffel & Odena 2020)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganzoo import GeneratorStep, Option, SetupContext
from ganzoo.errors import IncompatibleError
from ganzoo_mitigations.base import Mitigation


def top_k_fraction(step: int, *, gamma: float, nu: float, decay_every: int) -> float:
    """Share of the batch that updates G after ``step`` generator steps: ``max(nu, gamma ** (step // decay_every))``."""
    return max(nu, gamma ** (step // decay_every))


def keep_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """``logits`` with the gradient of all but the ``k`` highest-scoring samples cut off (their values are kept)."""
    n = logits.shape[0]
    if k >= n:
        return logits
    score = logits.detach().reshape(n, -1).float().mean(dim=1)
    keep = torch.zeros(n, dtype=torch.bool, device=logits.device)
    keep[score.topk(k).indices] = True
    mask = keep.reshape((n,) + (1,) * (logits.dim() - 1))
    return torch.where(mask, logits, logits.detach())


class _TopKDiscriminator(nn.Module):
    """D for the generator's loss: only the ``k`` samples D finds most realistic pass gradient to G."""

    def __init__(self, discriminator: nn.Module, fraction: float) -> None:
        super().__init__()
        self.discriminator, self.fraction = discriminator, fraction

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        out: torch.Tensor = self.discriminator(x) if labels is None else self.discriminator(x, labels)
        k = max(1, math.ceil(self.fraction * out.shape[0]))
        return keep_top_k(out, k)


class TopK(Mitigation):
    """Zeroes the generator-loss gradient of the samples D scores as least realistic. The kept share starts at
    the whole batch and shrinks by ``gamma`` every ``decay_every`` generator steps down to ``nu``. The paper
    anneals once per epoch; ``decay_every`` states that epoch in generator steps. Assumes, like every built-in
    loss, that a higher logit means "more real". Real logits are untouched (they carry no gradient to G)."""

    name = "top-k"
    summary = "top-k training: G learns only from the fakes D scores highest; k shrinks from the batch to nu * batch"
    reference = ("Sinha, Zhao, Goyal, Raffel & Odena 2020, Top-k Training of GANs: Improving GAN Performance by "
                 "Throwing Away Bad Samples (arXiv:2002.06224)")
    options = {
        "gamma": Option(0.99, "decay factor of k per decay_every generator steps (paper: 0.99 per epoch)",
                        minimum=0.0, maximum=1.0),
        "nu": Option(0.5, "smallest kept share of the batch (paper: 0.5 to 0.75)", minimum=0.0, maximum=1.0),
        "decay_every": Option(500, "generator steps between two decays of k (the paper's epoch)", minimum=1),
    }

    def check(self, ctx: SetupContext) -> None:
        if float(self.opts["nu"]) * ctx.batch_size < 1:
            raise IncompatibleError(
                f"top-k: nu * batch size must keep at least one sample, got nu {self.opts['nu']} x batch {ctx.batch_size}")

    def discriminator_for_generator(self, discriminator: nn.Module, step: GeneratorStep) -> nn.Module:
        fraction = top_k_fraction(step.step, gamma=float(self.opts["gamma"]), nu=float(self.opts["nu"]),
                                  decay_every=int(self.opts["decay_every"]))
        return discriminator if fraction >= 1.0 else _TopKDiscriminator(discriminator, fraction)
