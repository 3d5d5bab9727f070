"""Learning-rate schedules: linear warm-up, then constant, linear or cosine decay.

The factor is a pure function of the generator step, so a resumed run gets exactly the rates of an
uninterrupted one without any scheduler state in the checkpoint."""

from __future__ import annotations

import math

import torch

from ganzoo.config import LR_SCHEDULES as SCHEDULES


def lr_factor(step: int, total: int, schedule: str = "constant", warmup: int = 0, final: float = 0.0) -> float:
    """Multiplier of the base learning rate for generator step ``step`` (counted from 0) of ``total``.

    Warm-up rises linearly from 1/warmup to 1 over the first ``warmup`` steps; the decay then runs from 1
    at the end of warm-up to ``final`` at the last step."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; allowed: {', '.join(SCHEDULES)}")
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    span = max(total - 1 - warmup, 1)
    t = min(max(step - warmup, 0) / span, 1.0)
    shape = 1.0 - t if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))
    return final + (1.0 - final) * shape


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every parameter group of ``optimizer`` to ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr
