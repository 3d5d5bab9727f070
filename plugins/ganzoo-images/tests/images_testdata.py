"""Tiny test data for the ganzoo-images tests (uniquely named so it never clashes with other test helpers)."""

from __future__ import annotations

import torch


def idx_bytes(data: torch.Tensor) -> bytes:
    """The IDX encoding of a uint8 tensor."""
    header = bytes([0, 0, 0x08, data.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in data.shape)
    return header + data.to(torch.uint8).contiguous().numpy().tobytes()


def tiny_digits(n: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random 28x28 uint8 images and labels cycling 0..9."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    labels = (torch.arange(n) % 10).to(torch.uint8)
    return images, labels
