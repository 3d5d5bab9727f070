"""Registers the example plugin's components with ganzoo."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ganzoo import DataInfo, DatasetSpec, DiscriminatorStep, GanData, GeneratorStep, LossSpec, Option, hookimpl


class Relativistic(LossSpec):
    """Relativistic standard GAN (RSGAN): with ``C`` the critic's logit, each real sample is paired with
    a fake one and

    - D minimises ``E[-log sigmoid(C(x_r) - C(x_f))]``,
    - G minimises ``E[-log sigmoid(C(x_f) - C(x_r))]``,

    as ``BCEWithLogits(y_pred - y_pred_fake, 1)`` / ``BCEWithLogits(y_pred_fake - y_pred, 1)`` in the
    paper's code. The generator's term needs D's logits on real data, so the loss sets
    ``needs_real_logits`` and the engine judges a fresh real batch in the generator step."""

    name = "relativistic"
    summary = "relativistic standard GAN loss (RSGAN): real vs fake judged relative to each other"
    reference = "Jolicoeur-Martineau 2019, The relativistic discriminator (arXiv:1807.00734)"
    recommended = {"train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas": [0.5, 0.999]}
    needs_real_logits = True

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return F.softplus(-(real_logits.float() - fake_logits.float())).mean()

    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        if real_logits is None:
            raise ValueError("relativistic: generator_loss needs the real logits (needs_real_logits = True)")
        return F.softplus(-(fake_logits.float() - real_logits.float())).mean()


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
