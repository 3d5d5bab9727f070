"""Building blocks: conditional BatchNorm, SNGAN residual blocks and SAGAN self-attention.

Every operation is per-sample in eval mode and none is in place, so the discriminator supports double
backward (gradient penalties) and the generator exports to ONNX with a free batch axis."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(c_in: int, c_out: int, gain: float = math.sqrt(2)) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 3, 1, 1)
    nn.init.xavier_uniform_(conv.weight, gain)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def conv1x1(c_in: int, c_out: int, gain: float = 1.0, bias: bool = True) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 1, 1, 0, bias=bias)
    nn.init.xavier_uniform_(conv.weight, gain)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d whose gain and bias depend on the condition.

    * no condition: an ordinary affine BatchNorm2d (unconditional G);
    * ``num_classes``: per-class gains and biases from two embeddings (the categorical conditional
      BatchNorm of Miyato & Koyama 2018; gains start at 1, biases at 0);
    * ``cond_dim``: gain ``1 + W_g c`` and bias ``W_b c`` for a condition vector ``c`` (BigGAN: the
      shared class embedding concatenated with the block's chunk of z).
    """

    def __init__(self, channels: int, num_classes: int | None = None, cond_dim: int = 0) -> None:
        super().__init__()
        self.mode = "vector" if cond_dim else ("class" if num_classes else "plain")
        self.bn = nn.BatchNorm2d(channels, affine=self.mode == "plain")
        self.gain: nn.Module | None = None
        self.bias: nn.Module | None = None
        if self.mode == "class":
            assert num_classes is not None
            self.gain, self.bias = nn.Embedding(num_classes, channels), nn.Embedding(num_classes, channels)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)
        elif self.mode == "vector":
            self.gain, self.bias = nn.Linear(cond_dim, channels, bias=False), nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bn(x)
        if self.gain is None or self.bias is None:
            return h
        if cond is None:
            raise ValueError("conditional BatchNorm: a condition (labels or a vector) is required")
        gain, bias = self.gain(cond), self.bias(cond)
        if self.mode == "vector":
            gain = 1 + gain
        return h * gain[:, :, None, None] + bias[:, :, None, None]


class GBlock(nn.Module):
    """SNGAN generator block: BN-ReLU-up-conv3x3-BN-ReLU-conv3x3, plus up-conv1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, num_classes: int | None = None, cond_dim: int = 0) -> None:
        super().__init__()
        self.b1 = ConditionalBatchNorm2d(c_in, num_classes, cond_dim)
        self.c1 = conv3x3(c_in, c_out)
        self.b2 = ConditionalBatchNorm2d(c_out, num_classes, cond_dim)
        self.c2 = conv3x3(c_out, c_out)
        self.sc = conv1x1(c_in, c_out)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.c1(upsample(F.relu(self.b1(x, cond))))
        h = self.c2(F.relu(self.b2(h, cond)))
        return h + self.sc(upsample(x))


class DBlock(nn.Module):
    """SNGAN discriminator block. ``optimized`` (the first block): conv3x3-ReLU-conv3x3-avgpool, shortcut
    avgpool-conv1x1; otherwise ReLU-conv3x3-ReLU-conv3x3(-avgpool), with a conv1x1(-avgpool) shortcut
    when the channels change or the block downsamples."""

    def __init__(self, c_in: int, c_out: int, downsample: bool, optimized: bool = False) -> None:
        super().__init__()
        self.optimized, self.downsample = optimized, downsample
        self.c1 = conv3x3(c_in, c_out)
        self.c2 = conv3x3(c_out, c_out)
        self.sc = conv1x1(c_in, c_out) if (optimized or downsample or c_in != c_out) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.optimized else F.relu(x)
        h = self.c2(F.relu(self.c1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        if self.optimized:
            s = self.sc(F.avg_pool2d(x, 2)) if self.sc is not None else x
        else:
            s = self.sc(x) if self.sc is not None else x
            if self.downsample:
                s = F.avg_pool2d(s, 2)
        return h + s


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019) as in BigGAN: 1x1 theta (C/8), phi (C/8) and g (C/2)
    projections, phi and g max-pooled 2x2 when the map is even, softmax over positions, a 1x1 output
    projection scaled by a learned ``gamma`` that starts at 0 (the block starts as the identity)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ck, self.cv = max(1, channels // 8), max(1, channels // 2)
        self.theta = conv1x1(channels, self.ck, bias=False)
        self.phi = conv1x1(channels, self.ck, bias=False)
        self.g = conv1x1(channels, self.cv, bias=False)
        self.o = conv1x1(self.cv, channels, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        theta = self.theta(x).flatten(2)  # [N, ck, HW]
        phi, g = self.phi(x), self.g(x)
        if h % 2 == 0 and w % 2 == 0:
            phi, g = F.max_pool2d(phi, 2), F.max_pool2d(g, 2)
        beta = torch.softmax(torch.bmm(theta.transpose(1, 2), phi.flatten(2)), dim=-1)  # [N, HW, HW']
        o = torch.bmm(g.flatten(2), beta.transpose(1, 2))  # [N, cv, HW]
        return x + self.gamma * self.o(o.unflatten(2, (h, w)))
