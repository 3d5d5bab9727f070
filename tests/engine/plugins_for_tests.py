"""Test-only plugins: a loss that turns NaN at a chosen step, and a hook that slows each step down.

``host_with_test_plugins()`` gives a private plugin host with them; ``cli_with_test_plugins.py``
runs the real ``ganzoo`` command line with them registered in-process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F

from ganzoo import LossSpec, Option, hookimpl
from ganzoo.plugins import PluginHost

SLEEP_ENV = "GANZOO_TEST_SLEEP"


class NaNAtStep(LossSpec):
    """ns-gan, except that the discriminator loss is NaN from its ``at``-th call on (with
    ``n_critic = 1`` that is training step ``at``)."""

    name = "test-nan-at"
    summary = "test loss: ns-gan that becomes NaN at a chosen step"
    options = {"at": Option(5, "1-based discriminator update at which the loss becomes NaN", minimum=1)}
    recommended = {"train.n_critic": 1}
    opts: Mapping[str, Any] = MappingProxyType({"at": 5})

    def __init__(self) -> None:
        self.calls = 0

    def with_options(self, values: Mapping[str, Any] | None = None, *, prefix: str | None = None) -> Any:
        configured = super().with_options(values, prefix=prefix)
        configured.calls = 0  # each configured copy counts its own calls
        return configured

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        if self.calls >= int(self.opts["at"]):
            loss = loss * float("nan")
        return loss

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()


class TestLossPlugin:
    @hookimpl
    def ganzoo_register_losses(self, register: Callable[[Any], None]) -> None:
        register(NaNAtStep())


class SlowStepsPlugin:
    """Sleeps ``$GANZOO_TEST_SLEEP`` seconds at every logging interval (``log_every = 1``: every
    step), so that a subprocess can be signalled between two checkpoints without a race."""

    @hookimpl
    def ganzoo_log(self, run_dir: Any, step: int, metrics: Any) -> None:
        delay = float(os.environ.get(SLEEP_ENV, "0") or 0)
        if delay > 0:
            time.sleep(delay)


def add_test_plugins(host: PluginHost) -> PluginHost:
    host.add_plugin(TestLossPlugin(), "ganzoo-engine-test-losses")
    host.add_plugin(SlowStepsPlugin(), "ganzoo-engine-test-slow")
    return host


def host_with_test_plugins() -> PluginHost:
    return add_test_plugins(PluginHost(strict=True).load_entry_points())
