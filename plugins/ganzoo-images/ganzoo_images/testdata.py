"""Tiny stand-in files in each image dataset's on-disk format, for tests of code that reads them.

The files hold random pixels, not real images: they exercise reading, shapes, labels and training
offline (the conformance tests of every dataset, the plugin's own tests). :func:`trust_cifar10`
makes torchvision accept fake CIFAR-10 batches and is for tests only.
"""

from __future__ import annotations

import gzip
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo_images.cifar import CIFAR_FOLDER

__all__ = ["idx_bytes", "tiny_digits", "write_mnist_split", "write_cifar10", "trust_cifar10",
           "write_image_folder", "LOCAL_FILES"]


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


def write_mnist_split(folder: Path, split: str = "test", n: int = 20, gz: bool = True,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Write an MNIST-style split (IDX images and labels) into ``folder``; return ``(images, labels)``."""
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = tiny_digits(n, seed)
    prefix = "t10k" if split == "test" else "train"
    for name, data in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        blob = idx_bytes(data)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(blob))
        else:
            (folder / name).write_bytes(blob)
    return images, labels.long()


def write_cifar10(root: Path, n_per_batch: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    """A tiny ``ROOT/cifar-10-batches-py``: 5 train batches, a test batch and the meta file.

    Their md5 sums are not the official ones, so ganzoo refuses to read them until
    :func:`trust_cifar10` is applied."""
    folder = root / CIFAR_FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3 * 32 * 32), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        (folder / name).write_bytes(pickle.dumps({"data": data, "labels": labels}))
        batches[name] = (data, labels)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": ["c"] * 10}))
    return batches


def trust_cifar10(root: Path, patch: Callable[[Any, str, Any], None]) -> None:
    """Make torchvision's md5 table match the files :func:`write_cifar10` wrote under ``root``.

    Tests only: pass ``monkeypatch.setattr`` so the official table is restored afterwards."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import calculate_md5 as _md5

    folder = root / CIFAR_FOLDER
    patch(CIFAR10, "train_list", [[f"data_batch_{i}", _md5(folder / f"data_batch_{i}")] for i in range(1, 6)])
    patch(CIFAR10, "test_list", [["test_batch", _md5(folder / "test_batch")]])
    patch(CIFAR10, "meta", {**CIFAR10.meta, "md5": _md5(folder / "batches.meta")})


def write_image_folder(root: Path, per_class: int = 4) -> None:
    """PNG images of mixed sizes in two class subfolders ``a`` and ``b`` of ``root``."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            h, w = int(rng.integers(16, 48)), int(rng.integers(16, 48))
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")


Patch = Callable[[Any, str, Any], None]


def _mnist_train(root: Path, patch: Patch) -> None:
    write_mnist_split(root, "train")


def _cifar10(root: Path, patch: Patch) -> None:
    write_cifar10(root)
    trust_cifar10(root, patch)


def _image_folder(root: Path, patch: Patch) -> None:
    write_image_folder(root)


LOCAL_FILES: dict[str, Callable[[Path, Patch], None]] = {
    "mnist": _mnist_train,
    "stacked-mnist": _mnist_train,
    "fashion-mnist": _mnist_train,
    "cifar10": _cifar10,
    "image-folder": _image_folder,
}
"""Dataset name -> ``write(data_root, patch)``: stand-in files for the dataset's default options,
found through ``data_root`` (``patch`` as in :func:`trust_cifar10`)."""
