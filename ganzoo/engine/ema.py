"""Exponential moving average of the generator's weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow`` = decay * shadow + (1 - decay) * model for parameters; buffers are copied.

    Before generator step ``start`` the shadow copies the model instead of averaging, so the average
    does not carry the random initial weights (BigGAN's ``ema_start``)."""

    def __init__(self, model: nn.Module, decay: float, start: int = 0) -> None:
        self.decay = decay
        self.start = start
        self.shadow = copy.deepcopy(model).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Fold in the model after generator step ``step`` (counted from 0)."""
        src = [p.detach() for p in model.parameters()]
        dst: list[torch.Tensor] = list(self.shadow.parameters())
        if step < self.start:
            torch._foreach_copy_(dst, src)
        else:
            torch._foreach_lerp_(dst, src, 1.0 - self.decay)
        for b_dst, b_src in zip(self.shadow.buffers(), model.buffers()):
            b_dst.copy_(b_src)
