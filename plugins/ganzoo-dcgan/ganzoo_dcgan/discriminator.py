"""DCGAN discriminator: strided convolutions with LeakyReLU(0.2), optional norm on inner layers."""

from __future__ import annotations

from torch import nn

from ganzoo.specs import Discriminator
from ganzoo_dcgan.layout import LAYOUTS, init_weights

NORMS = ("batch", "layer", "none")


def _norm(kind: str, channels: int) -> nn.Module | None:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # Layer norm over (C, H, W) with a per-channel affine, as in the WGAN-GP reference code.
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return None
    raise ValueError(f"unknown discriminator norm {kind!r}; expected one of {', '.join(NORMS)}")


def build_features(channels: int, resolution: int, width: int, norm: str) -> tuple[nn.Sequential, int]:
    """The conv stack down to a ``start x start`` map, flattened; returns it and its feature size.

    Mirrors the generator: 4x4 stride-2 convolutions, no norm after the first one (Radford et al.).
    The default linear head on the flattened map equals pytorch/examples' final 4x4 convolution.
    """
    layout = LAYOUTS[resolution]
    widths = layout.widths(width)[::-1]  # w, 2w, 4w, ...
    layers: list[nn.Module] = []
    c_in = channels
    for i, c_out in enumerate(widths):
        n = _norm(norm, c_out) if i > 0 else None
        layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=n is None))
        if n is not None:
            layers.append(n)
        layers.append(nn.LeakyReLU(0.2))
        c_in = c_out
    layers.append(nn.Flatten())
    return nn.Sequential(*layers), widths[-1] * layout.start * layout.start


def build_discriminator(channels: int, resolution: int, width: int = 64, norm: str = "batch",
                        num_classes: int | None = None) -> Discriminator:
    """A :class:`ganzoo.specs.Discriminator` with DCGAN features and the default linear head; with
    ``num_classes`` a projection discriminator (the class embedding keeps ganzoo's initialisation)."""
    features, feature_dim = build_features(channels, resolution, width, norm)
    disc = Discriminator(features, feature_dim, num_classes=num_classes)
    init_weights(disc)
    return disc
