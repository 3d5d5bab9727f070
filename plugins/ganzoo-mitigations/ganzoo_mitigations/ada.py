"""Adaptive discriminator augmentation (Karras et al. 2020, ADA), over the DiffAugment operations.

Each augmentation operation is applied to each sample independently with probability ``p``, on every
batch D sees (real and fake, both players), as in ADA. ``p`` follows the overfitting heuristic
``r_t = E[sign(D_train)]`` (Karras et al. 2020, eq. (1), right; their official code's
``Loss/signs/real``): D's real logits of every discriminator update are accumulated, and every
``interval`` updates ``p += sign(r_t - target) * (batch * interval) / speed_images``, clipped to
[0, 1]. The defaults are the paper's (target 0.6, interval 4, p able to go from 0 to 1 in 500k
images, p starting at 0).

The operations are DiffAugment's (:mod:`ganzoo_mitigations.diffaugment`), not ADA's own 18-op
pipeline: this is ADA's controller on a differentiable, dependency-free augmentation set.
``p``, the accumulated signs and the update counter are in :meth:`state_dict`, so a resumed run
continues with the same ``p``.

Limits: every call of :meth:`ADA.discriminator_regularizer` counts as a discriminator update, including
the simulated updates of a mitigation that calls ``GeneratorStep.discriminator_objective`` (``unrolled``);
in a multi-process run each process accumulates the signs of its own slice of the batch (the official
code averages them over processes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ganzoo import BatchContext, DiscriminatorStep, Option, SetupContext
from ganzoo_mitigations.base import Mitigation
from ganzoo_mitigations.diffaugment import augment, parse_policy, require_images


class ADA(Mitigation):
    """ADA's adaptive augmentation probability ``p`` (per sample, per operation), tuned from ``r_t``."""

    name = "ada"
    summary = "ADA: augment each sample with probability p, tuned so that E[sign(D(x_real))] stays at 0.6 (Karras et al. 2020)"
    reference = ("Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020, Training Generative Adversarial Networks with "
                 "Limited Data (arXiv:2006.06676); operations of Zhao et al. 2020, DiffAugment (arXiv:2006.10738)")
    options = {
        "target": Option(0.6, "target of r_t = E[sign(D(x_real))] (the paper's 0.6)", minimum=0.0, maximum=1.0),
        "interval": Option(4, "adjust p every this many discriminator updates (the paper's 4)", minimum=1, maximum=10_000),
        "speed_images": Option(500_000, "images over which p can move from 0 to 1 (the paper's 500k)", minimum=1,
                               maximum=10**9),
        "p_init": Option(0.0, "initial augmentation probability p (the paper starts at 0)", minimum=0.0, maximum=1.0),
        "policy": Option("color,translation,cutout", "DiffAugment operations p applies to, comma-separated"),
    }

    # State of a configured copy (reset by with_options; never the registered instance's).
    p: float = 0.0
    signs_sum: float = 0.0
    signs_count: int = 0
    updates: int = 0
    batch_size: int | None = None

    def with_options(self, values: Mapping[str, Any] | None = None, *, prefix: str | None = None) -> ADA:
        configured = super().with_options(values, prefix=prefix)
        configured.p = float(configured.opts["p_init"])
        configured.signs_sum, configured.signs_count, configured.updates = 0.0, 0, 0
        configured.batch_size = None
        return configured

    def check(self, ctx: SetupContext) -> None:
        parse_policy(self.opts["policy"], f"mitigation.{self.name}.policy")
        require_images(self.name, ctx)
        self.batch_size = int(ctx.batch_size)

    def transform(self, x: torch.Tensor, ctx: BatchContext) -> torch.Tensor:
        if x.dim() != 4 or self.p <= 0:
            return x
        return augment(x, parse_policy(self.opts["policy"], f"mitigation.{self.name}.policy"), p=self.p)

    def discriminator_regularizer(self, ctx: DiscriminatorStep) -> torch.Tensor | None:
        """Accumulates sign(D(x_real)) of this update and adjusts p every ``interval`` updates; adds no term."""
        logits = ctx.real_logits.detach().float()
        self.signs_sum += float(torch.sign(logits).sum())
        self.signs_count += int(logits.numel())
        self.updates += 1
        interval = int(self.opts["interval"])
        if self.updates % interval == 0 and self.signs_count:
            r_t = self.signs_sum / self.signs_count
            # The official code's batch_size * ada_interval; without a set-up batch size (a direct call), the
            # logits seen over the interval stand in for it.
            images = (self.batch_size * interval) if self.batch_size else self.signs_count
            step = images / float(self.opts["speed_images"])
            sign = (r_t > self.opts["target"]) - (r_t < self.opts["target"])
            self.p = min(1.0, max(0.0, self.p + sign * step))
            self.signs_sum, self.signs_count = 0.0, 0
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"p": float(self.p), "signs_sum": float(self.signs_sum), "signs_count": int(self.signs_count),
                "updates": int(self.updates)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.p = float(state.get("p", self.p))
        self.signs_sum = float(state.get("signs_sum", 0.0))
        self.signs_count = int(state.get("signs_count", 0))
        self.updates = int(state.get("updates", 0))
