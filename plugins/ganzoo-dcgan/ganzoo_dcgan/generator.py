"""DCGAN generator: transposed convolutions with BatchNorm + ReLU and a tanh output."""

from __future__ import annotations

import torch
from torch import nn

from ganzoo_dcgan.layout import LAYOUTS, init_weights


class DCGANGenerator(nn.Module):
    """Maps ``z: [N, latent_dim]`` to images ``[N, channels, resolution, resolution]`` in [-1, 1].

    The first transposed convolution (kernel ``start``, stride 1, no padding) projects ``z`` to a
    ``start x start`` map; every further layer is a 4x4 stride-2 transposed convolution.
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
