"""Tiny synthetic datasets the harness trains on, and the standard data shapes it probes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganzoo.specs import DataInfo, DatasetSpec, GanData, Option

VECTOR_DATASET = "ganzoo-testing-vector"
IMAGE_DATASET = "ganzoo-testing-image"


def standard_infos() -> list[DataInfo]:
    """The data shapes an architecture is probed with: 2D vectors; 1 and 3 channel images at 16, 28, 32, 64 px."""
    infos = [DataInfo(name="vector-2d", kind="vector", shape=(2,), value_range=(-2.0, 2.0))]
    for channels in (1, 3):
        for res in (16, 28, 32, 64):
            infos.append(DataInfo(name=f"image-{channels}x{res}", kind="image", shape=(channels, res, res)))
    return infos


class SyntheticVector(DatasetSpec):
    """Four Gaussian blobs in ``dim`` dimensions, labelled by blob."""

    name = VECTOR_DATASET
    summary = "ganzoo.testing: four Gaussian blobs (vectors)"
    options = {
        "dim": Option(2, "dimension", minimum=1),
        "size": Option(64, "number of points", minimum=1),
    }

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        g = torch.Generator().manual_seed(seed)
        n, dim = int(self.opts["size"]), int(self.opts["dim"])
        y = torch.arange(n) % 4
        centres = torch.zeros(4, dim)
        centres[:, 0] = torch.tensor([1.0, -1.0, 0.0, 0.0])
        if dim > 1:
            centres[:, 1] = torch.tensor([0.0, 0.0, 1.0, -1.0])
        x = (centres[y] + 0.05 * torch.randn(n, dim, generator=g)).clamp(-1.5, 1.5)
        info = DataInfo(name=self.name, kind="vector", shape=(dim,), value_range=(-1.5, 1.5), num_classes=4, num_modes=4)
        return GanData(info, torch.utils.data.TensorDataset(x, y), tensors=(x, y))


class SyntheticImage(DatasetSpec):
    """Random images in [-1, 1] with four labels."""

    name = IMAGE_DATASET
    summary = "ganzoo.testing: random images"
    options = {
        "channels": Option(3, "channels", minimum=1),
        "height": Option(16, "height in pixels", minimum=1),
        "width": Option(16, "width in pixels", minimum=1),
        "size": Option(32, "number of images", minimum=1),
    }

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        g = torch.Generator().manual_seed(seed)
        n, c = int(self.opts["size"]), int(self.opts["channels"])
        h, w = int(self.opts["height"]), int(self.opts["width"])
        x = torch.rand(n, c, h, w, generator=g) * 2 - 1
        y = torch.arange(n) % 4
        info = DataInfo(name=self.name, kind="image", shape=(c, h, w), num_classes=4, num_modes=4)
        return GanData(info, torch.utils.data.TensorDataset(x, y), tensors=(x, y))


def synthetic_dataset_for(info: DataInfo) -> tuple[str, dict[str, Any]]:
    """The synthetic dataset (name, options) whose data looks like ``info``."""
    if info.kind == "vector":
        return VECTOR_DATASET, {"dim": info.dim}
    c, h, w = info.shape
    return IMAGE_DATASET, {"channels": c, "height": h, "width": w}
