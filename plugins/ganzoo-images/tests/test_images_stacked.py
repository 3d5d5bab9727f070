"""``stacked-mnist``: three digits as RGB channels, 1000 modes, composed lazily."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganzoo.errors import DataUnavailableError
import ganzoo_images.stacked as stacked
from ganzoo_images.stacked import StackedDigits


def _source_index(channel: torch.Tensor, digits: torch.Tensor) -> int:
    """Which source digit image a channel (in [-1, 1]) is."""
    u8 = ((channel + 1) * 127.5).round().to(torch.uint8)
    hits = (digits == u8).flatten(1).all(1).nonzero().flatten()
    assert hits.numel() >= 1
    return int(hits[0])


def test_labels_are_the_digits_of_the_channels(tmp_path: Path, write_split, build_dataset) -> None:
    digits, labels = write_split(tmp_path, "test", n=30)
    data = build_dataset("stacked-mnist", {"split": "test", "size": 200}, tmp_path)
    assert len(data) == 200
    info = data.info
    assert info.shape == (3, 28, 28) and info.num_modes == 1000 and info.num_classes == 1000
    assert info.extras["mode_labels"] == "digits-per-channel" and info.extras["base_dataset"] == "mnist"
    for i in range(0, 200, 17):
        x, y = data.dataset[i]
        assert x.shape == (3, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
        assert float(x.min()) >= -1 and float(x.max()) <= 1
        d = [int(labels[_source_index(x[c], digits)]) for c in range(3)]
        assert int(y) == 100 * d[0] + 10 * d[1] + d[2]


def test_all_1000_modes_and_determinism(tmp_path: Path, write_split, build_dataset, monkeypatch) -> None:
    write_split(tmp_path, "test", n=20)
    monkeypatch.setattr(stacked, "MATERIALISE_LIMIT_BYTES", 0)  # keep it lazy: labels only
    a, b, c = (build_dataset("stacked-mnist", {"split": "test", "size": 20_000}, tmp_path, seed=s) for s in (1, 1, 2))
    ya, yb, yc = (d.dataset.labels for d in (a, b, c))
    assert len(torch.unique(ya)) == 1000 and int(ya.min()) >= 0 and int(ya.max()) <= 999
    assert torch.equal(ya, yb) and not torch.equal(ya, yc)
    assert torch.equal(a.dataset[123][0], b.dataset[123][0])


def test_small_size_is_materialised(tmp_path: Path, write_split, build_dataset) -> None:
    write_split(tmp_path, "test", n=10)
    data = build_dataset("stacked-mnist", {"split": "test", "size": 50, "resolution": 32}, tmp_path)
    x, y = data.tensors
    assert x.shape == (50, 3, 32, 32) and y.shape == (50,)
    assert torch.equal(data.dataset[4][0], x[4])


def test_large_size_stays_lazy(tmp_path: Path, write_split, build_dataset, monkeypatch) -> None:
    write_split(tmp_path, "test", n=10)
    monkeypatch.setattr(stacked, "MATERIALISE_LIMIT_BYTES", 1000)
    data = build_dataset("stacked-mnist", {"split": "test", "size": 64}, tmp_path)
    assert data.tensors is None and isinstance(data.dataset, StackedDigits)
    assert data.dataset.digits.dtype == torch.uint8  # the images are stored once, as uint8
    batch = torch.utils.data.default_collate([data.dataset[i] for i in range(8)])
    assert batch[0].shape == (8, 3, 28, 28) and batch[1].dtype == torch.int64


def test_default_size_is_lazy(tmp_path: Path, write_split, build_dataset) -> None:
    write_split(tmp_path, "test", n=10)
    data = build_dataset("stacked-mnist", {"split": "test"}, tmp_path)
    assert len(data) == 128_000 and data.tensors is None


def test_missing_mnist_names_stacked(tmp_path: Path, build_dataset) -> None:
    with pytest.raises(DataUnavailableError, match="'stacked-mnist' needs mnist .*train-images-idx3-ubyte"):
        build_dataset("stacked-mnist", {}, tmp_path)
