"""The ResNet generator and the discriminator's feature extractor."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo_resnet.layers import DBlock, GBlock, SelfAttention, conv3x3
from ganzoo_resnet.layout import Layout


def chunk_sizes(latent_dim: int, parts: int) -> list[int]:
    """BigGAN's hierarchical z: ``parts`` chunks, the first taking the remainder of an uneven split."""
    base = latent_dim // parts
    return [latent_dim - base * (parts - 1)] + [base] * (parts - 1)


class ResNetGenerator(nn.Module):
    """``z [N, latent_dim]`` (and ``labels [N]`` when conditional) -> images ``[N, C, R, R]`` in [-1, 1].

    Conditioning (``num_classes`` set): categorical conditional BatchNorm in every block (SNGAN with a
    projection D), or with ``shared_embedding`` BigGAN's shared class embedding whose vector, joined
    with the block's chunk of z when ``hierarchical_z``, gives every block's BatchNorm gains and biases
    through linear maps. The final BatchNorm is unconditional in both (as in SNGAN and BigGAN)."""

    def __init__(self, latent_dim: int, channels: int, layout: Layout, width: int, *, num_classes: int | None = None,
                 shared_embedding: bool = False, hierarchical_z: bool = True, embedding_dim: int = 128,
                 attention: int = 0) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        if num_classes:
            self.num_classes = int(num_classes)
        widths = layout.g_widths(width)
        n_blocks = len(widths) - 1
        self.start = layout.start
        self.shared = bool(num_classes) and shared_embedding
        self.hierarchical = self.shared and hierarchical_z
        self.z_sizes = chunk_sizes(self.latent_dim, n_blocks + 1) if self.hierarchical else [self.latent_dim]
        cond_dim = 0
        block_classes = num_classes
        if self.shared:
            assert num_classes is not None
            self.embed = nn.Embedding(num_classes, embedding_dim)
            cond_dim = embedding_dim + (self.z_sizes[1] if self.hierarchical else 0)
            block_classes = None
        self.linear = nn.Linear(self.z_sizes[0], layout.start * layout.start * widths[0])
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.blocks = nn.ModuleList(
            GBlock(c_in, c_out, block_classes, cond_dim) for c_in, c_out in zip(widths[:-1], widths[1:])
        )
        resolutions = layout.g_resolutions()
        self.attention_after = resolutions.index(attention) if attention in resolutions else -1
        self.attention = SelfAttention(widths[self.attention_after + 1]) if self.attention_after >= 0 else None
        self.bn = nn.BatchNorm2d(widths[-1])
        self.conv = conv3x3(widths[-1], channels, gain=1.0)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        conditional = hasattr(self, "num_classes")
        if conditional and labels is None:
            raise ValueError("resnet: this generator is class-conditional; call it as G(z, labels)")
        zs = list(torch.split(z, self.z_sizes, dim=1)) if self.hierarchical else [z]
        h = self.linear(zs[0]).unflatten(1, (-1, self.start, self.start))
        shared = self.embed(labels) if self.shared else None
        for i, block in enumerate(self.blocks):
            cond: torch.Tensor | None
            if shared is not None:
                cond = torch.cat([shared, zs[i + 1]], dim=1) if self.hierarchical else shared
            else:
                cond = labels if conditional else None
            h = block(h, cond)
            if i == self.attention_after and self.attention is not None:
                h = self.attention(h)
        return torch.tanh(self.conv(F.relu(self.bn(h))))


class ResNetFeatures(nn.Module):
    """The discriminator's blocks, ReLU and global sum pooling: ``[N, C, R, R] -> [N, channels of the last block]``."""

    def __init__(self, channels: int, layout: Layout, width: int, resolution: int, attention: int = 0) -> None:
        super().__init__()
        widths = layout.d_widths(width)
        resolutions = layout.d_resolutions(resolution)
        layers: list[nn.Module] = []
        c_in = channels
        for i, (c_out, down) in enumerate(widths):
            layers.append(DBlock(c_in, c_out, down, optimized=i == 0))
            # BigGAN's D attends at the first block whose output has the chosen resolution.
            if attention and resolutions[i] == attention and resolutions.index(attention) == i:
                layers.append(SelfAttention(c_out))
            c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.out_dim = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))
