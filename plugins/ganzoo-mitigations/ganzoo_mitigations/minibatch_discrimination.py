"""Minibatch discrimination (Salimans et al. 2016)."""

from __future__ import annotations

import torch
from torch import nn

from ganzoo import BatchNeeds, HeadFeature, Option, SetupContext
from ganzoo_mitigations.base import Mitigation


def _cdist_has_double_backward() -> bool:
    """Whether ``torch.cdist(p=1)`` supports double backward (recent PyTorch; older ones raise)."""
    try:
        x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(torch.cdist(x, x, p=1).sum(), x, create_graph=True)
        g.sum().backward()
        return True
    except RuntimeError:
        return False


_CDIST_OK = _cdist_has_double_backward()


def pairwise_l1(m: torch.Tensor) -> torch.Tensor:
    """``[B, N, C] -> [B, N, N]`` L1 distances between the N samples for each of the B kernels,
    twice differentiable (gradient penalties and second-order unrolling need that)."""
    if _CDIST_OK:
        return torch.cdist(m, m, p=1)
    return (m.unsqueeze(2) - m.unsqueeze(1)).abs().sum(-1)


class MinibatchDiscrimination(nn.Module):
    """``[N, A] -> [N, A + B]``: appends ``o_b(x_i) = sum_{j != i} exp(-||M_i,b - M_j,b||_1) + bias_b``
    with ``M = x T`` reshaped to ``[N, B, C]`` (B kernels of dimension C).

    ``T`` is a bias-free ``Linear(A, B*C)`` (so spectral norm can normalise it) initialised like the
    Improved-GAN code's weight-normalised tensor: each of the B*C columns has unit norm.
    """

    def __init__(self, in_features: int, num_kernels: int = 100, kernel_dim: int = 5) -> None:
        super().__init__()
        self.in_features, self.num_kernels, self.kernel_dim = int(in_features), int(num_kernels), int(kernel_dim)
        self.T = nn.Linear(self.in_features, self.num_kernels * self.kernel_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(self.num_kernels))
        with torch.no_grad():
            w = torch.randn_like(self.T.weight)
            self.T.weight.copy_(w / w.norm(dim=1, keepdim=True).clamp_min(1e-12))

    @property
    def out_features(self) -> int:
        return self.in_features + self.num_kernels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        m = self.T(x).reshape(n, self.num_kernels, self.kernel_dim).transpose(0, 1).contiguous()
        dist = pairwise_l1(m)  # [B, N, N]; cost O(N^2 B C)
        others = 1.0 - torch.eye(n, device=x.device, dtype=dist.dtype)
        o = (torch.exp(-dist) * others).sum(-1).t() + self.bias
        return torch.cat([x, o], dim=1)


class MinibatchDiscriminationSpec(Mitigation):
    """Replaces D's final linear layer by minibatch discrimination + ``Linear(A + B, 1)``."""

    name = "minibatch-discrimination"
    summary = "minibatch discrimination: D sees how close each sample's features are to the rest of the batch"
    reference = "Salimans et al. 2016, Improved Techniques for Training GANs (arXiv:1606.03498); Improved-GAN code defaults"
    options = {
        "num_kernels": Option(100, "number of kernels B (Improved-GAN code: 100)", minimum=1, maximum=4096),
        "kernel_dim": Option(5, "dimension C of each kernel (Improved-GAN code: 5)", minimum=1, maximum=1024),
    }

    def batch_needs(self, ctx: SetupContext) -> BatchNeeds:
        return BatchNeeds(min_batch=2)  # a sample needs others to be compared with

    def head_feature(self, in_features: int, ctx: SetupContext) -> HeadFeature:
        mbd = MinibatchDiscrimination(in_features, int(self.opts["num_kernels"]), int(self.opts["kernel_dim"]))
        return HeadFeature(mbd, mbd.num_kernels)
