"""Fixtures for the ganzoo-mitigations tests: a plugin host with a tiny procedural image dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ganzoo import DatasetSpec, GanData, Option, hookimpl
from ganzoo.plugins import PluginHost
from ganzoo.specs import DataInfo


class TinyImages(DatasetSpec):
    """Random 3xRxR images in [-1, 1] (no files): enough to drive the engine on images."""

    name = "mitigation-test-images"
    summary = "random images for the ganzoo-mitigations tests"
    options = {"resolution": Option(16, "side", choices=(16, 32)), "size": Option(64, "count", minimum=1)}

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        r, n = int(self.opts["resolution"]), int(self.opts["size"])
        x = torch.rand(n, 3, r, r, generator=torch.Generator().manual_seed(seed)) * 2 - 1
        y = torch.full((n,), -1, dtype=torch.long)
        info = DataInfo(name=self.name, kind="image", shape=(3, r, r))
        return GanData(info=info, dataset=torch.utils.data.TensorDataset(x, y), tensors=(x, y))


class _TestPlugin:
    @hookimpl
    def ganzoo_register_datasets(self, register: Any) -> None:
        register(TinyImages())


@pytest.fixture(scope="session")
def image_host() -> PluginHost:
    """The installed plugins plus the tiny image dataset."""
    host = PluginHost().load_entry_points()
    host.add_plugin(_TestPlugin(), "ganzoo-mitigations-tests")
    return host
