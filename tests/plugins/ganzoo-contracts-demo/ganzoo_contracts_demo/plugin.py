"""The components of the contracts-v2 acceptance distribution, written against ganzoo's public API only.

- loss ``ragan-demo``: relativistic average GAN, non-saturating (Jolicoeur-Martineau 2018);
- mitigation ``instance-noise-demo``: Gaussian instance noise annealed linearly to 0 over the run;
- mitigation ``pack-demo``: PacGAN-style packing through :class:`ganzoo.BatchNeeds`;
- metric ``mean-distance-demo``: distance between the means of generated and real samples;
- architecture ``cond-demo``: a tiny class-conditional generator and a projection discriminator;
- dataset ``digits-demo``: MNIST-shaped (1x28x28, 10 classes) labelled stand-in data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import (
    ArchitectureSpec,
    BatchContext,
    BatchNeeds,
    DataInfo,
    DatasetSpec,
    Discriminator,
    DiscriminatorStep,
    GanData,
    GeneratorStep,
    LossSpec,
    MetricContext,
    MetricSpec,
    MetricValue,
    MitigationSpec,
    Option,
    SetupContext,
    hookimpl,
)

# --------------------------------------------------------------------------- loss


class RaGAN(LossSpec):
    """Relativistic average standard GAN (RaSGAN), with ``C`` the critic's logit and sigma the sigmoid:

    - D minimises ``-E_r[log sigma(C(x_r) - E_f C(x_f))] - E_f[log(1 - sigma(C(x_f) - E_r C(x_r)))]``,
    - G minimises ``-E_f[log sigma(C(x_f) - E_r C(x_r))] - E_r[log(1 - sigma(C(x_r) - E_f C(x_f)))]``.

    ``-log sigma(t) = softplus(-t)`` and ``-log(1 - sigma(t)) = softplus(t)``."""

    name = "ragan-demo"
    summary = "relativistic average GAN (RaSGAN), non-saturating"
    reference = "Jolicoeur-Martineau 2018, The relativistic discriminator (arXiv:1807.00734), eq. (7)-(8)"
    recommended = {"train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas": [0.5, 0.999]}
    needs_real_logits = True

    @staticmethod
    def _terms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``-E_a[log sigma(a - E b)] - E_b[log(1 - sigma(b - E a))]``."""
        a, b = a.float(), b.float()
        return F.softplus(-(a - b.mean())).mean() + F.softplus(b - a.mean()).mean()

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return self._terms(real_logits, fake_logits)

    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        if real_logits is None:
            raise ValueError("ragan-demo: generator_loss needs the real logits (needs_real_logits = True)")
        return self._terms(fake_logits, real_logits)


# --------------------------------------------------------------------------- mitigations


class InstanceNoise(MitigationSpec):
    """Adds ``N(0, std^2)`` to every real and fake batch D sees, ``std = sigma0 * (1 - step / total_steps)``
    (annealed linearly to 0; Sonderby et al. 2017, Arjovsky & Bottou 2017). With ``log`` set, every
    call appends ``{"step", "total_steps", "std", "measured", "role", "player"}`` as a JSON line."""

    name = "instance-noise-demo"
    summary = "annealed Gaussian instance noise on real and fake batches"
    reference = "Sonderby et al. 2017, Amortised MAP Inference for Image Super-resolution (arXiv:1610.04490)"
    options = {
        "sigma0": Option(0.5, "initial noise standard deviation", minimum=0.0),
        "log": Option("", "JSON-lines file recording the noise std of every call (empty: none)"),
    }

    def std(self, ctx: BatchContext) -> float:
        return float(self.opts["sigma0"]) * (1.0 - ctx.progress)

    def transform(self, x: torch.Tensor, ctx: BatchContext) -> torch.Tensor:
        std = self.std(ctx)
        noise = torch.randn_like(x) * std
        if self.opts["log"]:
            record = {"step": ctx.step, "total_steps": ctx.total_steps, "std": std,
                      "measured": float(noise.float().std()), "role": ctx.role, "player": ctx.player}
            with open(self.opts["log"], "a") as fh:
                fh.write(json.dumps(record) + "\n")
        return x + noise


class Pack(MitigationSpec):
    """PacGAN-style packing: D judges ``pack`` samples concatenated on the channel (or feature) axis; the
    engine does the packing from :class:`ganzoo.BatchNeeds`. ``observed`` collects the shapes of the real
    and fake inputs D judged in discriminator updates (a class-level list, for tests)."""

    name = "pack-demo"
    summary = "packing: D judges m samples at once (through BatchNeeds.pack)"
    reference = "Lin et al. 2018, PacGAN (arXiv:1712.04086)"
    options = {"pack": Option(2, "samples per discriminator input", minimum=1)}
    observed: ClassVar[list[tuple[tuple[int, ...], tuple[int, ...]]]] = []

    def batch_needs(self, ctx: SetupContext) -> BatchNeeds:
        return BatchNeeds(pack=int(self.opts["pack"]))

    def discriminator_regularizer(self, ctx: DiscriminatorStep) -> torch.Tensor | None:
        Pack.observed.append((tuple(ctx.real.shape), tuple(ctx.fake.shape)))
        return None


# --------------------------------------------------------------------------- metric


class MeanDistance(MetricSpec):
    """``|| mean(G samples) - mean(real samples) ||_2`` over flattened samples (lower is better)."""

    name = "mean-distance-demo"
    summary = "L2 distance between the means of generated and real samples"
    reference = "contracts-v2 acceptance demo"
    values: ClassVar[Mapping[str, MetricValue]] = {"mean_distance": MetricValue("min", "mean distance")}
    default_samples = 256

    def applies(self, info: DataInfo) -> str | None:
        return None if info.kind in ("vector", "image") else f"unknown data kind {info.kind!r}"

    def compute(self, ctx: MetricContext) -> Mapping[str, float]:
        n = int(ctx.num_samples or self.default_samples)
        fake = ctx.sample(n).float().flatten(1)
        real = ctx.real(n).float().flatten(1)
        return {"mean_distance": float((fake.mean(0) - real.mean(0)).norm()), "num_real": float(real.shape[0])}


# --------------------------------------------------------------------------- architecture


class CondGenerator(nn.Module):
    """``G(z, labels)``: ``[z, embed(labels)] -> Linear -> 2 transposed convs -> tanh``, ``[N, C, 28, 28]``
    (unconditional when ``num_classes`` is None: ``G(z)``)."""

    def __init__(self, latent_dim: int, width: int, channels: int, size: int, num_classes: int | None) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        if num_classes:
            self.num_classes = int(num_classes)
            self.embed = nn.Embedding(self.num_classes, 8)
        self.width, self.base = width, size // 4
        extra = 8 if num_classes else 0
        self.fc = nn.Sequential(nn.Linear(self.latent_dim + extra, 2 * width * self.base * self.base), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if hasattr(self, "num_classes"):
            if labels is None:
                raise ValueError("cond-demo: this generator is class-conditional; pass labels")
            z = torch.cat([z, self.embed(labels)], dim=1)
        h = self.fc(z).reshape(-1, 2 * self.width, self.base, self.base)
        return self.up(h)


class CondDemo(ArchitectureSpec):
    """A tiny class-conditional architecture for labelled images whose side is a multiple of 4: the
    discriminator is ganzoo's projection :class:`ganzoo.Discriminator` over two strided convolutions."""

    name = "cond-demo"
    summary = "tiny class-conditional conv generator and projection discriminator"
    reference = "Mirza & Osindero 2014 (conditional G); Miyato & Koyama 2018 (projection D)"
    options = {
        "latent_dim": Option(16, "size of z", minimum=1),
        "width": Option(8, "base width of both networks", minimum=1),
        "conditional": Option(True, "condition G and D on the class labels (false: unconditional)"),
    }

    def supports(self, info: DataInfo) -> str | None:
        if info.kind != "image" or len(info.shape) != 3:
            return "cond-demo models images"
        if info.shape[1] % 4 or info.shape[2] != info.shape[1]:
            return "cond-demo needs square images whose side is a multiple of 4"
        if self.opts["conditional"] and not info.num_classes:
            return "cond-demo is class-conditional and needs labelled images (or set arch.conditional=false)"
        return None

    def _classes(self, info: DataInfo) -> int | None:
        return info.num_classes if self.opts["conditional"] else None

    def build_generator(self, info: DataInfo) -> nn.Module:
        return CondGenerator(self.opts["latent_dim"], self.opts["width"], info.shape[0], info.shape[1], self._classes(info))

    def build_discriminator(self, info: DataInfo, *, batch_norm: bool) -> Discriminator:
        w, side = int(self.opts["width"]), info.shape[1] // 4
        features = nn.Sequential(
            nn.Conv2d(info.shape[0], w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(),
        )
        return Discriminator(features, 2 * w * side * side, num_classes=self._classes(info))


# --------------------------------------------------------------------------- dataset


def digit_pattern(k: int, shift: int) -> torch.Tensor:
    """Class ``k``: a bright horizontal bar 3 rows high at rows ``2k + 3 ..``, 14 pixels long from column ``shift``."""
    x = torch.full((1, 28, 28), -1.0)
    x[0, 2 * k + 3 : 2 * k + 6, shift : shift + 14] = 1.0
    return x


class DigitsDemo(DatasetSpec):
    """MNIST-shaped labelled stand-in data: 1x28x28 in [-1, 1], 10 classes, each class a bar at its own height."""

    name = "digits-demo"
    summary = "MNIST-shaped labelled stand-in: 10 classes of bars at distinct heights, 1x28x28 (no download)"
    reference = "contracts-v2 acceptance demo"
    options = {
        "size": Option(500, "number of images", minimum=10),
        "noise": Option(0.05, "Gaussian pixel noise", minimum=0.0),
    }

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        g = torch.Generator().manual_seed(seed)
        n = int(self.opts["size"])
        y = torch.arange(n) % 10
        shifts = torch.randint(0, 15, (n,), generator=g)
        x = torch.stack([digit_pattern(int(k), int(s)) for k, s in zip(y, shifts)])
        x = (x + float(self.opts["noise"]) * torch.randn(x.shape, generator=g)).clamp(-1.0, 1.0)
        info = DataInfo(name=self.name, kind="image", shape=(1, 28, 28), num_classes=10,
                        class_names=tuple(f"bar-{k}" for k in range(10)))
        return GanData(info=info, dataset=torch.utils.data.TensorDataset(x, y), tensors=(x, y))


# --------------------------------------------------------------------------- hooks


@hookimpl
def ganzoo_register_losses(register: Callable[[Any], None]) -> None:
    register(RaGAN())


@hookimpl
def ganzoo_register_mitigations(register: Callable[[Any], None]) -> None:
    register(InstanceNoise())
    register(Pack())


@hookimpl
def ganzoo_register_metrics(register: Callable[[Any], None]) -> None:
    register(MeanDistance())


@hookimpl
def ganzoo_register_architectures(register: Callable[[Any], None]) -> None:
    register(CondDemo())


@hookimpl
def ganzoo_register_datasets(register: Callable[[Any], None]) -> None:
    register(DigitsDemo())
