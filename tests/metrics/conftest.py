"""Fixtures for the metrics tests: a tiny synthetic labelled image dataset in a private plugin host."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from ganzoo import DataInfo, DatasetSpec, GanData, Option, hookimpl
from ganzoo.plugins import PluginHost

TOY_CLASSES = 4
TOY_RES = 8


def toy_images(labels: torch.Tensor, channels: int, g: torch.Generator) -> torch.Tensor:
    """Class k: a bright 3x3 blob in quadrant k (jittered by one pixel) on a noisy dark background."""
    n = labels.shape[0]
    x = -1.0 + 0.2 * torch.randn(n, channels, TOY_RES, TOY_RES, generator=g)
    jitter = torch.randint(0, 2, (n, 2), generator=g)
    for i in range(n):
        k = int(labels[i])
        r0 = (k // 2) * 4 + int(jitter[i, 0])
        c0 = (k % 2) * 4 + int(jitter[i, 1])
        x[i, :, r0 : r0 + 3, c0 : c0 + 3] += 1.8
    return x.clamp_(-1.0, 1.0)


class ToyDigits(DatasetSpec):
    """4 classes of 8x8 images; labels = class = mode."""

    name = "toy-digits"
    summary = "test data"
    options = {
        "size": Option(400, "number of images", minimum=2),
        "channels": Option(1, "channels", choices=(1, 3)),
        "labelled": Option(True, "carry labels"),
    }

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        g = torch.Generator().manual_seed(seed + 101)
        n = int(self.opts["size"])
        y = torch.arange(n) % TOY_CLASSES
        x = toy_images(y, int(self.opts["channels"]), g)
        labelled = bool(self.opts["labelled"])
        info = DataInfo(name=self.name, kind="image", shape=tuple(x.shape[1:]),
                        num_classes=TOY_CLASSES if labelled else None, num_modes=TOY_CLASSES if labelled else None)
        if not labelled:
            y = torch.full_like(y, -1)
        return GanData(info=info, dataset=torch.utils.data.TensorDataset(x, y), tensors=(x, y))


class ToyVectors(DatasetSpec):
    name = "toy-vectors"
    summary = "test data (vectors)"
    options = {}

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        x = torch.zeros(10, 2)
        y = torch.zeros(10, dtype=torch.int64)
        info = DataInfo(name=self.name, kind="vector", shape=(2,), num_classes=1)
        return GanData(info=info, dataset=torch.utils.data.TensorDataset(x, y), tensors=(x, y))


class _TestPlugin:
    @hookimpl
    def ganzoo_register_datasets(self, register):  # type: ignore[no-untyped-def]
        register(ToyDigits())
        register(ToyVectors())


@pytest.fixture
def host() -> PluginHost:
    """A fresh plugin host holding only the test datasets (not the global one)."""
    h = PluginHost(strict=True, disabled=set())
    h.add_plugin(_TestPlugin(), "metrics-test-plugin")
    assert "toy-digits" in h.datasets
    return h


@pytest.fixture
def make_toy() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``make_toy(n, channels, seed)``: fresh toy images and labels (not the training data)."""

    def make(n: int = 200, channels: int = 1, seed: int = 999) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % TOY_CLASSES
        return toy_images(y, channels, torch.Generator().manual_seed(seed)), y

    return make


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "classifiers"
