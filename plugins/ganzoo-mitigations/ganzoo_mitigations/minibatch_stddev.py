"""Minibatch standard deviation (Karras et al. 2018, ProGAN; StyleGAN's grouping)."""

from __future__ import annotations

import torch
from torch import nn

from ganzoo import BatchNeeds, HeadFeature, Option, SetupContext
from ganzoo.errors import IncompatibleError
from ganzoo_mitigations.base import Mitigation


class MinibatchStdDev(nn.Module):
    """``[N, F] -> [N, F + 1]``: appends, for each sample, the mean over features of the standard
    deviation ``sqrt(Var + eps)`` (biased variance) over its group. Groups of ``G = min(group_size, N)``
    samples, sample ``i`` in group ``i mod (N/G)``, exactly as StyleGAN's ``minibatch_stddev_layer``."""

    def __init__(self, group_size: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size, self.eps = int(group_size), float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, f = x.shape
        g = min(self.group_size, n)
        if n % g:
            raise IncompatibleError(
                f"minibatch-stddev: discriminator batch of {n} is not divisible by the group size {g}; "
                f"use a batch size that is a multiple of {self.group_size}"
            )
        y = x.float().reshape(g, n // g, f)
        std = (y.var(dim=0, unbiased=False) + self.eps).sqrt().mean(dim=1)  # [N/G]
        return torch.cat([x, std.repeat(g).to(x.dtype).unsqueeze(1)], dim=1)


class MinibatchStdDevSpec(Mitigation):
    """Appends the minibatch-stddev feature to D's flat features: ``head = Linear(F + 1, 1)``."""

    name = "minibatch-stddev"
    summary = "minibatch standard deviation: D sees the feature spread of its batch (ProGAN/StyleGAN)"
    reference = "Karras, Aila, Laine & Lehtinen 2018, Progressive Growing of GANs (arXiv:1710.10196); StyleGAN group size 4"
    options = {
        "group_size": Option(4, "samples per group G, min(G, batch) as in StyleGAN (default 4)", minimum=2, maximum=4096),
    }

    def batch_needs(self, ctx: SetupContext) -> BatchNeeds:
        return BatchNeeds(group=int(self.opts["group_size"]))

    def head_feature(self, in_features: int, ctx: SetupContext) -> HeadFeature:
        return HeadFeature(MinibatchStdDev(int(self.opts["group_size"])), 1)
