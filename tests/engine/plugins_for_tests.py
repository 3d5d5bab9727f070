"""Test-only plugins: a loss that turns NaN at a chosen step, a hook that slows each step down, and
a ring8 dataset that loads slowly through a DataLoader.

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

from ganzoo import DatasetSpec, GanData, LossSpec, Option, hookimpl
from ganzoo.plugins import PluginHost

SLEEP_ENV = "GANZOO_TEST_SLEEP"
DATA_DELAY_ENV = "GANZOO_TEST_DATA_DELAY"


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

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: Any = None) -> torch.Tensor:
        self.calls += 1
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        if self.calls >= int(self.opts["at"]):
            loss = loss * float("nan")
        return loss

    def generator_loss(self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: Any = None) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()


class _SlowItems(torch.utils.data.Dataset):
    """Items of ``base``, each ``$GANZOO_TEST_DATA_DELAY`` seconds late (read in the loading process)."""

    def __init__(self, base: torch.utils.data.Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        delay = float(os.environ.get(DATA_DELAY_ENV, "0") or 0)
        if delay > 0:
            time.sleep(delay)
        return self.base[i]


class SlowRing8(DatasetSpec):
    """ring8's points, without tensors (always through a DataLoader) and optionally slow to load."""

    name = "test-slow-ring8"
    summary = "test dataset: ring8 through a DataLoader, slow when $GANZOO_TEST_DATA_DELAY is set"
    options = {"size": Option(200, "number of points", minimum=1)}
    opts: Mapping[str, Any] = MappingProxyType({"size": 200})

    def build(self, *, data_root: Any, seed: int) -> GanData:
        from ganzoo.plugins import get_host

        ring = get_host().datasets.get("ring8").with_options({"size": self.opts["size"]})
        data = ring.build(data_root=data_root, seed=seed)
        return GanData(info=data.info.replace(name=self.name), dataset=_SlowItems(data.dataset), tensors=None)


class ComponentsForTests:
    @hookimpl
    def ganzoo_register_losses(self, register: Callable[[Any], None]) -> None:
        register(NaNAtStep())

    @hookimpl
    def ganzoo_register_datasets(self, register: Callable[[Any], None]) -> None:
        register(SlowRing8())


class SlowStepsPlugin:
    """Sleeps ``$GANZOO_TEST_SLEEP`` seconds at every logging interval (``log_every = 1``: every
    step), so that a subprocess can be signalled between two checkpoints without a race."""

    @hookimpl
    def ganzoo_log(self, run_dir: Any, step: int, metrics: Any) -> None:
        delay = float(os.environ.get(SLEEP_ENV, "0") or 0)
        if delay > 0:
            time.sleep(delay)


def add_test_plugins(host: PluginHost) -> PluginHost:
    host.add_plugin(ComponentsForTests(), "ganzoo-engine-test-components")
    host.add_plugin(SlowStepsPlugin(), "ganzoo-engine-test-slow")
    return host


def host_with_test_plugins() -> PluginHost:
    return add_test_plugins(PluginHost(strict=True).load_entry_points())
