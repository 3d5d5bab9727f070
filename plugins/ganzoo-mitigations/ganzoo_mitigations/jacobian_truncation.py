"""Jacobian-based truncation (Tanielian, Issenhuth, Dohmatob & Mary 2020): at sampling time, latents where G
stretches most (the largest Jacobian Frobenius norm) are rejected; they map to the thin bridges a continuous
generator draws between disconnected modes."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ganzoo import Option, SetupContext
from ganzoo.specs import generator_latent_dim, generator_num_classes
from ganzoo_mitigations.base import Mitigation, is_stale, pick_candidates, seeded_latents, weights_key

FD_STEP = 1e-2  # finite-difference step in latent space (latents have unit scale)
CALIBRATION_SEED = 0


def jacobian_norms(generator: nn.Module, z: torch.Tensor, directions: torch.Tensor,
                   labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(G(z), ‖J_G(z)‖_F)`` per sample: the norm is Hutchinson's estimate ``E_v ‖J v‖²`` over the unit-variance
    ``directions`` ``[m, d]``, each ``J v`` a forward finite difference (forward passes only, so it exports to ONNX)."""
    n, m = z.shape[0], directions.shape[0]
    shifted = torch.cat([z, (z.unsqueeze(0) + FD_STEP * directions.unsqueeze(1)).flatten(0, 1)])
    y = generator(shifted) if labels is None else generator(shifted, labels.repeat(m + 1))
    x, moved = y[:n], y[n:].unflatten(0, (m, n))  # no size is inferred, so n may be 0
    sq = (moved - x.unsqueeze(0)).float().flatten(2).pow(2).sum(dim=2).mean(dim=0)
    return x, sq.sqrt() / FD_STEP


class JacobianTruncatedGenerator(nn.Module):
    """G with a latent of ``tries`` candidates: in training the first candidate is G's latent (the others are
    unused); in eval mode each sample is the first candidate whose Jacobian norm is within the ``keep`` quantile
    of the norms of ``calibration`` latents (the one with the smallest norm when none is), a deterministic
    function of the latent, so sampling stays reproducible and the module exports to ONNX."""

    directions: torch.Tensor
    threshold: torch.Tensor

    def __init__(self, generator: nn.Module, *, keep: float, tries: int, directions: int, calibration: int,
                 latent_distribution: str = "normal") -> None:
        super().__init__()
        self.generator, self.keep, self.tries, self.calibration = generator, keep, tries, calibration
        self.inner_latent_dim = generator_latent_dim(generator)
        self.latent_dim = self.inner_latent_dim * tries
        self.latent_distribution = latent_distribution
        if (k := generator_num_classes(generator)) is not None:
            self.num_classes = k
        g = torch.Generator().manual_seed(CALIBRATION_SEED)
        self.register_buffer("directions", torch.randn(directions, self.inner_latent_dim, generator=g), persistent=False)
        self.register_buffer("threshold", torch.tensor(math.inf), persistent=False)
        self._calibrated_for: Any = None

    @torch.no_grad()
    def calibrate(self) -> float:
        """Set the threshold: the ``keep`` quantile of the Jacobian norms of ``calibration`` seeded latents."""
        if self.keep >= 1.0:
            self.threshold.fill_(math.inf)
        else:
            device = self.directions.device
            g = torch.Generator().manual_seed(CALIBRATION_SEED)
            z = seeded_latents(self.calibration, self.inner_latent_dim, self.latent_distribution, g)
            k = getattr(self, "num_classes", None)
            labels = torch.randint(int(k), (self.calibration,), generator=g) if k else None
            norms = torch.cat([jacobian_norms(self.generator, zz.to(device), self.directions,
                                              None if labels is None else labels[i:i + 512].to(device))[1]
                               for i, zz in zip(range(0, self.calibration, 512), z.split(512))])
            self.threshold.fill_(float(torch.quantile(norms.double(), self.keep)))
        self._calibrated_for = weights_key(self.generator)
        return float(self.threshold)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        d, n = self.inner_latent_dim, z.shape[0]
        if self.training or self.keep >= 1.0:
            first = z[:, :d]
            return self.generator(first) if labels is None else self.generator(first, labels)
        if is_stale(self._calibrated_for, self.generator):
            self.calibrate()
        candidates = z.reshape(n * self.tries, d)
        x, norms = jacobian_norms(self.generator, candidates, self.directions,
                                  None if labels is None else labels.repeat_interleave(self.tries))
        norms = norms.reshape(n, self.tries)
        return pick_candidates(x, norms <= self.threshold, norms)  # the first within the threshold, else the smallest


class JacobianTruncation(Mitigation):
    """Sampling-time rejection of the latents G stretches most. Training is unchanged (G sees the first of the
    ``tries`` latent candidates); G's latent becomes ``tries`` times as long, and sampling costs
    ``tries × (directions + 1)`` generator passes per sample."""

    name = "jacobian-truncation"
    summary = "at sampling, reject latents with the largest Jacobian norm (the bridges between disconnected modes)"
    reference = ("Tanielian, Issenhuth, Dohmatob & Mary 2020, Learning disconnected manifolds: a no GAN's land "
                 "(ICML 2020, arXiv:2006.04596)")
    options = {
        "keep": Option(0.8, "share of latents kept: those with the smallest Jacobian norm", minimum=0.01, maximum=1.0),
        "tries": Option(4, "latent candidates per sample (if none is kept, the one with the smallest norm is used)",
                        minimum=1, maximum=64),
        "directions": Option(4, "random directions of the finite-difference estimate of the norm", minimum=1, maximum=256),
        "calibration": Option(4096, "seeded latents whose norms set the threshold", minimum=64),
    }

    def wrap_generator(self, generator: nn.Module, ctx: SetupContext) -> nn.Module:
        return JacobianTruncatedGenerator(
            generator, keep=float(self.opts["keep"]), tries=int(self.opts["tries"]), directions=int(self.opts["directions"]),
            calibration=int(self.opts["calibration"]), latent_distribution=ctx.latent_distribution)
