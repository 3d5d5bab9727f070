"""Differentiable Augmentation (Zhao, Liu, Lin, Zhu & Han 2020, DiffAugment).

The operations are those of the authors' ``DiffAugment_pytorch.py``: for ``color`` a random brightness
shift in [-0.5, 0.5), saturation scale in [0, 2) and contrast scale in [0.5, 1.5); ``translation`` by
up to 1/8 of each side (rounded) with zero padding; ``cutout`` of a square of half each side (rounded)
at a random centre. Every sample draws its own parameters. All of them are differentiable with respect
to the images, so the generator learns through them.

Each op optionally takes a boolean ``mask`` ``[N]``: samples where it is False are left untouched (ADA's
per-sample probability, :mod:`ganzoo_mitigations.ada`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganzoo import BatchContext, Option, SetupContext
from ganzoo.errors import ConfigError, IncompatibleError
from ganzoo_mitigations.base import Mitigation

Op = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def _where(mask: torch.Tensor | None, augmented: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return augmented
    return torch.where(mask.view(-1, *([1] * (x.dim() - 1))), augmented, x)


def _uniform(x: torch.Tensor) -> torch.Tensor:
    """One U[0, 1) draw per sample, shaped to broadcast over ``[N, C, H, W]``."""
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def rand_brightness(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``x + (u - 0.5)``, u ~ U[0, 1) per sample."""
    return _where(mask, x + (_uniform(x) - 0.5), x)


def rand_saturation(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``(x - mean_c(x)) * 2u + mean_c(x)``: scales each pixel's deviation from its channel mean."""
    mean = x.mean(dim=1, keepdim=True)
    return _where(mask, (x - mean) * (_uniform(x) * 2) + mean, x)


def rand_contrast(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``(x - mean(x)) * (u + 0.5) + mean(x)``, the mean over the whole image."""
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return _where(mask, (x - mean) * (_uniform(x) + 0.5) + mean, x)


def rand_translation(x: torch.Tensor, mask: torch.Tensor | None = None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by an integer in [-s, s] on each axis, s = int(side * ratio + 0.5); vacated pixels
    are zero (the authors' gather over a 1-pixel zero pad, indices clamped into the pad)."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, size=[n, 1, 1], device=x.device)
    tx = torch.randint(-sw, sw + 1, size=[n, 1, 1], device=x.device)
    gb, gy, gx = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy + ty + 1, 0, h + 1)
    gx = torch.clamp(gx + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    out = padded.permute(0, 2, 3, 1).contiguous()[gb, gy, gx].permute(0, 3, 1, 2)
    return _where(mask, out, x)


def rand_cutout(x: torch.Tensor, mask: torch.Tensor | None = None, ratio: float = 0.5) -> torch.Tensor:
    """Zero a ``round(h * ratio) x round(w * ratio)`` square centred at a random pixel (clipped at the border)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), size=[n, 1, 1], device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), size=[n, 1, 1], device=x.device)
    gb, gy, gx = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gy = torch.clamp(gy + oy - ch // 2, min=0, max=h - 1)
    gx = torch.clamp(gx + ox - cw // 2, min=0, max=w - 1)
    keep = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    keep[gb, gy, gx] = 0
    return _where(mask, x * keep.unsqueeze(1), x)


OPS: dict[str, tuple[Op, ...]] = {
    "color": (rand_brightness, rand_saturation, rand_contrast),
    "translation": (rand_translation,),
    "cutout": (rand_cutout,),
}
"""The policy names of the paper and the operations each applies, in order."""


def parse_policy(policy: str, where: str) -> tuple[str, ...]:
    """The policy's names (comma-separated, in order); a ConfigError names an unknown one."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in OPS]
    if unknown:
        raise ConfigError(f"{where}: unknown augmentation {unknown[0]!r}; choose from {', '.join(OPS)} (comma-separated)")
    return names


def augment(x: torch.Tensor, policy: tuple[str, ...], p: float | None = None) -> torch.Tensor:
    """Apply the policy's operations in order. With ``p``, each operation is applied to each sample
    independently with probability ``p`` (ADA); without, to every sample (DiffAugment)."""
    for name in policy:
        for op in OPS[name]:
            mask = None if p is None else torch.rand(x.shape[0], device=x.device) < p
            x = op(x, mask)
    return x.contiguous()


def require_images(name: str, ctx: SetupContext) -> None:
    if ctx.info.kind != "image":
        raise IncompatibleError(
            f"mitigation {name!r} augments images; dataset {ctx.info.name!r} has {ctx.info.kind} data of shape {ctx.info.shape}"
        )


class DiffAugment(Mitigation):
    """Applies the same random differentiable augmentation policy to every real and fake batch D sees, in
    both players' updates (the paper's Figure 4 (c): T on real and fake for D, and on fake for G)."""

    name = "diffaugment"
    summary = "DiffAugment: differentiable color/translation/cutout on every batch D sees (Zhao et al. 2020)"
    reference = "Zhao, Liu, Lin, Zhu & Han 2020, Differentiable Augmentation for Data-Efficient GAN Training (arXiv:2006.10738)"
    options = {
        "policy": Option("color,translation,cutout",
                         "comma-separated operations, applied in order: color, translation, cutout (the paper's choice for "
                         "CIFAR-10 and few-shot data; 'translation,cutout' is its choice for BigGAN on ImageNet-style data)"),
    }

    def check(self, ctx: SetupContext) -> None:
        parse_policy(self.opts["policy"], f"mitigation.{self.name}.policy")
        require_images(self.name, ctx)

    def transform(self, x: torch.Tensor, ctx: BatchContext) -> torch.Tensor:
        if x.dim() != 4:
            return x
        return augment(x, parse_policy(self.opts["policy"], f"mitigation.{self.name}.policy"))
