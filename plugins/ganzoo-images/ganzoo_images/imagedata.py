"""Shared image-data helpers: uint8 <-> [-1, 1] conversion, resizing, a lazy uint8 dataset and
the rule for when a dataset is materialised as float tensors (``GanData.tensors``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, TensorDataset

from ganzoo import DataInfo, GanData

__all__ = [
    "MATERIALISE_LIMIT_BYTES",
    "to_unit_range",
    "resize_uint8",
    "UInt8ImageDataset",
    "image_info",
    "image_data",
]

MATERIALISE_LIMIT_BYTES = 1 << 30
"""Data whose float32 form fits in this many bytes is handed over whole as ``GanData.tensors``
(the engine keeps such data on the device); larger data is converted item by item."""

_CHUNK = 4096


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """uint8 ``0..255`` -> float32 ``[-1, 1]``."""
    return x.to(torch.float32).div_(127.5).sub_(1.0)


def resize_uint8(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Resize uint8 ``[N, C, H, W]`` to ``resolution`` x ``resolution`` (bilinear, antialiased when
    shrinking), in chunks to bound memory."""
    if tuple(x.shape[-2:]) == (resolution, resolution):
        return x
    shrink = x.shape[-1] > resolution or x.shape[-2] > resolution
    out = torch.empty((*x.shape[:-2], resolution, resolution), dtype=torch.uint8)
    for i in range(0, x.shape[0], _CHUNK):
        y = F.interpolate(x[i : i + _CHUNK].float(), size=(resolution, resolution), mode="bilinear",
                          align_corners=False, antialias=shrink)
        out[i : i + _CHUNK] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


class UInt8ImageDataset(Dataset):
    """Items ``(x, y)`` from uint8 images ``[N, C, H, W]``, converted to float32 ``[-1, 1]`` on access
    (optionally resized to ``resolution`` on the fly)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, resolution: int | None = None) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("images must be uint8 [N, C, H, W]")
        if labels.shape != (images.shape[0],):
            raise ValueError("labels must be [N]")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.resolution = resolution

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[index]
        if self.resolution is not None and tuple(x.shape[-2:]) != (self.resolution, self.resolution):
            x = resize_uint8(x.unsqueeze(0), self.resolution)[0]
        return to_unit_range(x), self.labels[index]


def image_info(
    name: str,
    shape: tuple[int, int, int],
    *,
    num_classes: int | None,
    num_modes: int | None,
    extras: Mapping[str, Any] | None = None,
    **fields: Any,
) -> DataInfo:
    """The :class:`DataInfo` of images in [-1, 1]; ``fields`` are further typed DataInfo fields
    (``class_names``, ``stacked_from``, ``mode_num_samples``, ``fidelity_reference``)."""
    return DataInfo(name=name, kind="image", shape=(int(shape[0]), int(shape[1]), int(shape[2])), value_range=(-1.0, 1.0),
                    num_classes=num_classes, num_modes=num_modes, extras=dict(extras or {}), **fields)


def image_data(info: DataInfo, images: torch.Tensor, labels: torch.Tensor, *, materialise: bool = True) -> GanData:
    """Wrap uint8 images ``[N, C, H, W]`` (already at ``info``'s resolution) and int64 labels.

    With ``materialise`` and when the float32 data fits in :data:`MATERIALISE_LIMIT_BYTES`, the data
    is converted once and also given as ``tensors``; otherwise items are converted lazily."""
    labels = labels.to(torch.int64)
    if materialise and images.numel() * 4 <= MATERIALISE_LIMIT_BYTES:
        x = torch.empty(images.shape, dtype=torch.float32)
        for i in range(0, images.shape[0], _CHUNK):
            x[i : i + _CHUNK] = to_unit_range(images[i : i + _CHUNK])
        return GanData(info=info, dataset=TensorDataset(x, labels), tensors=(x, labels))
    return GanData(info=info, dataset=UInt8ImageDataset(images, labels))
