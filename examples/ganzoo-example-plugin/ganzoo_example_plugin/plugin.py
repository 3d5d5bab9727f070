"""Registers the example plugin's components with ganzoo."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ganzoo import DataInfo, DatasetSpec, GanData, LossSpec, Option, hookimpl


class Relativistic(LossSpec):
    """Relativistic standard GAN (RSGAN)."""

    name = "relativistic"
    summary = "relativistic standard GAN loss (RSGAN): real vs fake judged relative to each other"
    reference = "Jolicoeur-Martineau 2019, The relativistic discriminator"
    recommended = {"train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas": [0.5, 0.999]}

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-(real_logits - fake_logits.mean())).mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        # The engine gives the generator loss only fake logits; use a zero-centred real proxy.
        return F.softplus(-(fake_logits - fake_logits.detach().mean())).mean()


class Spiral(DatasetSpec):
    """A noisy two-turn spiral in 2D."""

    name = "spiral"
    summary = "2D spiral, two turns, Gaussian noise (no download)"
    reference = "example plugin"
    options = {
        "size": Option(20_000, "number of points", minimum=1),
        "noise": Option(0.02, "standard deviation of the noise", minimum=0.0),
    }

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        g = torch.Generator().manual_seed(seed)
        n = int(self.opts["size"])
        t = torch.rand(n, generator=g) * 4 * math.pi
        r = t / (4 * math.pi)
        x = torch.stack([r * torch.cos(t), r * torch.sin(t)], dim=1)
        x = x + self.opts["noise"] * torch.randn(n, 2, generator=g)
        y = torch.full((n,), -1, dtype=torch.long)
        info = DataInfo(name=self.name, kind="vector", shape=(2,), value_range=(-1.1, 1.1))
        return GanData(info=info, dataset=torch.utils.data.TensorDataset(x, y), tensors=(x, y))


@hookimpl
def ganzoo_register_losses(register):
    register(Relativistic())


@hookimpl
def ganzoo_register_datasets(register):
    register(Spiral())
