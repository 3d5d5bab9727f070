"""Shared fixtures of the ganzoo-images tests: tiny IDX files, an isolated data dir, no network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.error import URLError

import pytest
import torch

from ganzoo.plugins import get_host
from ganzoo_images.testdata import write_mnist_split


@pytest.fixture
def write_split() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``write_split(folder, split="test", n=20, gz=True)`` writes an MNIST-style split there and
    returns its ``(images, labels)``."""
    return write_mnist_split


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own (empty) default data dir, never the user's cache."""
    d = tmp_path / "ganzoo-cache"
    monkeypatch.setenv("GANZOO_DATA_DIR", str(d))
    return d


@pytest.fixture(autouse=True)
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """No test touches the network: torchvision's downloader raises URLError and records each call."""
    import torchvision.datasets.cifar as tv_cifar
    import torchvision.datasets.mnist as tv_mnist

    calls: list[dict[str, Any]] = []

    def offline(url: str, download_root: str, *args: Any, **kwargs: Any) -> None:
        calls.append({"url": url, "root": Path(download_root), **kwargs})
        raise URLError("simulated offline")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", offline)
    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", offline)
    return calls


def build(name: str, options: dict[str, Any] | None = None, data_root: Path | None = None, seed: int = 0) -> Any:
    spec = get_host().datasets.get(name).with_options(options or {})
    return spec.build(data_root=data_root, seed=seed)


@pytest.fixture
def build_dataset() -> Callable[..., Any]:
    """``build_dataset(name, options, data_root, seed)`` through the installed plugin registry."""
    return build
