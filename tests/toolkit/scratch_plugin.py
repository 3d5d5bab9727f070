"""A scratch plugin for the harness tests: small working components of every kind, and broken
variants, each breaking one part of a contract."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import (
    MetricContext,
    MetricSpec,
    MetricValue,
    ArchitectureSpec,
    BatchContext,
    DataInfo,
    DatasetSpec,
    DiscriminatorStep,
    GanData,
    GeneratorStep,
    LossSpec,
    MitigationSpec,
    Option,
    hookimpl,
)
from ganzoo.specs import Discriminator

# --------------------------------------------------------------------------- working components


class _Gen(nn.Module):
    def __init__(self, latent_dim: int, info: DataInfo, hidden: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = info.shape
        self.image = info.kind == "image"
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, info.dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z).unflatten(1, self.shape)
        return torch.tanh(x) if self.image else x


class ScratchArch(ArchitectureSpec):
    name = "scratch-arch"
    summary = "scratch MLP pair for vectors and 16 px images"
    options = {"hidden": Option(32, "hidden units", minimum=1), "latent_dim": Option(8, "z size", minimum=1)}

    def supports(self, info: DataInfo) -> str | None:
        if info.kind == "image" and info.shape[1:] != (16, 16):
            return "16 px images only"
        return None

    def build_generator(self, info: DataInfo) -> nn.Module:
        return _Gen(self.opts["latent_dim"], info, self.opts["hidden"])

    def build_discriminator(self, info: DataInfo, *, batch_norm: bool) -> Discriminator:
        h = self.opts["hidden"]
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(info.dim, h)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        return Discriminator(nn.Sequential(*layers, nn.LeakyReLU(0.2)), h)


class ScratchLoss(LossSpec):
    name = "scratch-loss"
    summary = "scratch non-saturating loss"

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()


class ScratchDataset(DatasetSpec):
    name = "scratch-data"
    summary = "scratch Gaussian blobs"
    options = {"size": Option(100, "points", minimum=1)}

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        g = torch.Generator().manual_seed(seed)
        n = self.opts["size"]
        y = torch.arange(n) % 2
        x = (y[:, None].float() * 2 - 1) + 0.1 * torch.randn(n, 2, generator=g)
        x = x.clamp(-2, 2)
        info = DataInfo(name=self.name, kind="vector", shape=(2,), value_range=(-2.0, 2.0), num_classes=2)
        return GanData(info, torch.utils.data.TensorDataset(x, y), tensors=(x, y))


class ScratchMitigation(MitigationSpec):
    name = "scratch-noise"
    summary = "scratch instance noise"
    options = {"std": Option(0.05, "noise std", minimum=0.0)}

    def transform(self, x: torch.Tensor, ctx: BatchContext) -> torch.Tensor:
        return x + self.opts["std"] * torch.randn_like(x)


class ScratchMetric(MetricSpec):
    """Distance between the means of generated and real samples."""

    name = "scratch-metric"
    summary = "distance between generated and real means"
    reference = "test"
    values = {"mean_gap": MetricValue("min", "mean gap")}

    def compute(self, ctx: MetricContext) -> dict[str, float]:
        n = ctx.num_samples or 64
        return {"mean_gap": float((ctx.sample(n).flatten(1).mean(0) - ctx.real(n).flatten(1).mean(0)).norm())}


GOOD = {
    "architecture": ScratchArch,
    "loss": ScratchLoss,
    "dataset": ScratchDataset,
    "mitigation": ScratchMitigation,
    "metric": ScratchMetric,
}

# --------------------------------------------------------------------------- broken variants


class WrongShapeArch(ScratchArch):
    def build_generator(self, info: DataInfo) -> nn.Module:
        return _Gen(self.opts["latent_dim"], info.replace(shape=(info.dim + 1,), kind="vector"), self.opts["hidden"])


class PlainModuleDiscriminatorArch(ScratchArch):
    def build_discriminator(self, info: DataInfo, *, batch_norm: bool) -> nn.Module:  # type: ignore[override]
        return nn.Sequential(nn.Flatten(), nn.Linear(info.dim, 1))


class AlwaysBatchNormArch(ScratchArch):
    def build_discriminator(self, info: DataInfo, *, batch_norm: bool) -> Discriminator:
        return super().build_discriminator(info, batch_norm=True)


class NoLatentDimArch(ScratchArch):
    def build_generator(self, info: DataInfo) -> nn.Module:
        g = super().build_generator(info)
        del g.latent_dim
        g.z_size = 8
        return g


class ReversedLoss(ScratchLoss):
    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()


class UnstableLoss(ScratchLoss):
    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return -(torch.log(torch.sigmoid(real_logits)) + torch.log(1 - torch.sigmoid(fake_logits))).mean()


class VectorLoss(ScratchLoss):
    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        return F.softplus(-fake_logits)


class Float64Dataset(ScratchDataset):
    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        data = super().build(data_root=data_root, seed=seed)
        x, y = data.tensors  # type: ignore[misc]
        return GanData(data.info, torch.utils.data.TensorDataset(x.double(), y), tensors=(x.double(), y))


class BadLabelsDataset(ScratchDataset):
    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        data = super().build(data_root=data_root, seed=seed)
        x, y = data.tensors  # type: ignore[misc]
        return GanData(data.info, torch.utils.data.TensorDataset(x, y + 5), tensors=(x, y + 5))


class RandomDataset(ScratchDataset):
    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        return super().build(data_root=data_root, seed=int(torch.randint(10**6, ())))


class TouchesDMitigation(ScratchMitigation):
    def discriminator_for_generator(self, discriminator: nn.Module, step: object) -> nn.Module:
        with torch.no_grad():
            for p in discriminator.parameters():
                p.add_(0.01)
        return discriminator


class ShapeMismatchMitigation(ScratchMitigation):
    def transform(self, x: torch.Tensor, ctx: BatchContext) -> torch.Tensor:
        return torch.cat([x, x], dim=1)  # doubles the features: the engine packs, a transform must keep the shape


# --------------------------------------------------------------------------- plugin hooks


class AbstractLoss(LossSpec):
    """Lacks generator_loss: an abstract class that cannot be instantiated."""

    name = "scratch-abstract"
    summary = "lacks generator_loss"

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        return real_logits.mean()


@hookimpl
def ganzoo_register_architectures(register):
    register(ScratchArch())


@hookimpl
def ganzoo_register_losses(register):
    register(ScratchLoss())


@hookimpl
def ganzoo_register_datasets(register):
    register(ScratchDataset())


@hookimpl
def ganzoo_register_mitigations(register):
    register(ScratchMitigation())
