"""DCGAN generator: transposed convolutions with BatchNorm + ReLU and a tanh output."""

from __future__ import annotations

import torch
from torch import nn

from ganzoo_dcgan.layout import LAYOUTS, init_weights


class ClassBatchNorm2d(nn.Module):
    """Categorical conditional BatchNorm (Miyato & Koyama 2018): BatchNorm without its own affine, then a
    gain and a bias per class from two embeddings (initialised like DCGAN's BatchNorm: N(1, 0.02), 0)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.normal_(self.gain.weight, 1.0, 0.02)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.gain(labels)[:, :, None, None] + self.bias(labels)[:, :, None, None]


class DCGANGenerator(nn.Module):
    """Maps ``z: [N, latent_dim]`` to images ``[N, channels, resolution, resolution]`` in [-1, 1].

    The first transposed convolution (kernel ``start``, stride 1, no padding) projects ``z`` to a
    ``start x start`` map; every further layer is a 4x4 stride-2 transposed convolution.
    With ``num_classes`` it is class-conditional (see :class:`ConditionalDCGANGenerator`).
    """

    def __init__(self, latent_dim: int, channels: int, resolution: int, width: int = 64) -> None:
        super().__init__()
        layout = LAYOUTS[resolution]
        self.latent_dim = int(latent_dim)
        self.channels = int(channels)
        self.resolution = int(resolution)
        widths = layout.widths(width)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], layout.start, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        ]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class ConditionalDCGANGenerator(nn.Module):
    """The DCGAN generator with every BatchNorm replaced by :class:`ClassBatchNorm2d`:
    ``forward(z, labels)`` with ``labels: [N]`` int64 in ``[0, num_classes)``."""

    def __init__(self, latent_dim: int, channels: int, resolution: int, width: int, num_classes: int) -> None:
        super().__init__()
        layout = LAYOUTS[resolution]
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)
        self.channels = int(channels)
        self.resolution = int(resolution)
        widths = layout.widths(width)
        convs = [nn.ConvTranspose2d(latent_dim, widths[0], layout.start, 1, 0, bias=False)]
        convs += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False) for c_in, c_out in zip(widths[:-1], widths[1:])]
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(ClassBatchNorm2d(c, num_classes) for c in widths)
        self.out = nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1)
        init_weights(self)  # convolutions N(0, 0.02); the class gains are drawn in ClassBatchNorm2d

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            raise ValueError("dcgan: this generator is class-conditional (arch.conditional=true); call it as G(z, labels)")
        h = z[:, :, None, None]
        for conv, norm in zip(self.convs, self.norms):
            h = torch.relu(norm(conv(h), labels))
        return torch.tanh(self.out(h))
