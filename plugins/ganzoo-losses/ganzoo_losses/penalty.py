"""Gradient penalty on real/fake interpolates (Gulrajani et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable

import contextlib

import torch

EPS = 1e-12


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    weight: float = 10.0,
    target: float = 1.0,
) -> torch.Tensor:
    """``weight * mean((||grad_x D(x_hat)||_2 - target)^2)`` at ``x_hat = a*real + (1-a)*fake``,
    ``a ~ U(0, 1)`` per sample.

    Computed in float32 with autocast disabled (whatever the caller's precision); the graph is
    kept (``create_graph=True``) so the penalty can be back-propagated to the discriminator.
    ``real`` and ``fake`` are detached; the larger batch is cut to the smaller one.
    """
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"gradient penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} samples differ in shape")
    n = min(real.shape[0], fake.shape[0])
    device_type = real.device.type
    no_autocast = (
        torch.autocast(device_type=device_type, enabled=False)
        if torch.amp.is_autocast_available(device_type)
        else contextlib.nullcontext()
    )
    with no_autocast:
        real32 = real[:n].detach().float()
        fake32 = fake[:n].detach().float()
        alpha = torch.rand((n,) + (1,) * (real32.dim() - 1), device=real32.device, dtype=torch.float32)
        x_hat = (alpha * real32 + (1.0 - alpha) * fake32).requires_grad_(True)
        out = discriminator(x_hat).float()
        (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
        norm = torch.sqrt(grad.float().flatten(1).pow(2).sum(dim=1) + EPS)
        return weight * (norm - target).pow(2).mean()
