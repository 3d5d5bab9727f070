"""2D Gaussian mixtures of the VEEGAN / PacGAN / GDPP protocol."""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import torch

from ganzoo import DataInfo, DatasetSpec, GanData, Option


def ring_centres(modes: int = 8, radius: float = 1.0) -> list[tuple[float, float]]:
    """Centres at angles 2*pi*i/modes (not linspace(0, 2*pi, modes), which repeats a centre)."""
    return [(radius * math.cos(2 * math.pi * i / modes), radius * math.sin(2 * math.pi * i / modes)) for i in range(modes)]


def grid_centres(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> list[tuple[float, float]]:
    return [(float(i), float(j)) for i in values for j in values]


def sample_mixture(
    centres: list[tuple[float, float]], std: float, n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points from the equal-weight mixture, with the index of each point's component."""
    c = torch.tensor(centres, dtype=torch.float32)
    labels = torch.randint(len(centres), (n,), generator=generator)
    x = c[labels] + std * torch.randn(n, 2, generator=generator)
    return x, labels


class _MixtureDataset(DatasetSpec):
    std: ClassVar[float]
    options = {"size": Option(100_000, "number of points drawn once from the mixture", minimum=1,
                                 maximum=10_000_000)}
    recommended = {"run.batch_size": 256}

    def centres(self) -> list[tuple[float, float]]:
        raise NotImplementedError

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        centres = self.centres()
        g = torch.Generator().manual_seed(seed + 7919)
        x, y = sample_mixture(centres, self.std, int(self.opts["size"]), g)
        lo = min(min(c) for c in centres) - 4 * self.std
        hi = max(max(c) for c in centres) + 4 * self.std
        info = DataInfo(
            name=self.name,
            kind="vector",
            shape=(2,),
            value_range=(lo, hi),
            num_classes=len(centres),
            num_modes=len(centres),
            mode_centres=tuple(centres),
            mode_std=self.std,
        )
        return GanData(info=info, dataset=torch.utils.data.TensorDataset(x, y), tensors=(x, y))


class Ring8(_MixtureDataset):
    name = "ring8"
    summary = "8 Gaussians on a circle of radius 1 (std 0.01)"
    reference = "Metz et al. 2017 (Unrolled GAN); VEEGAN (Srivastava et al. 2017)"
    std = 0.01

    def centres(self) -> list[tuple[float, float]]:
        return ring_centres(8, 1.0)


class Grid25(_MixtureDataset):
    name = "grid25"
    summary = "25 Gaussians on a 5x5 grid over [-4, 4]^2 (std 0.05)"
    reference = "VEEGAN (Srivastava et al. 2017); PacGAN (Lin et al. 2018)"
    std = 0.05

    def centres(self) -> list[tuple[float, float]]:
        return grid_centres()
