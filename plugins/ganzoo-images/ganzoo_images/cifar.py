"""``cifar10`` through torchvision, local files first.

torchvision's CIFAR loader unpickles the batch files. That is acceptable only for the official files,
so before loading, every file of ``cifar-10-batches-py`` (all batches and ``batches.meta``) is
checked against torchvision's own md5 table; a folder with a missing or altered file is reported and
never unpickled. Without local files the official archive is downloaded (torchvision checks its md5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganzoo import DatasetSpec, GanData, Option
from ganzoo.errors import DataUnavailableError
from ganzoo_images.download import describe_dirs, quiet_download, search_roots
from ganzoo_images.imagedata import UInt8ImageDataset, image_info

__all__ = ["CIFAR_FOLDER", "CIFAR10_CLASSES", "check_cifar_folder", "load_cifar10", "Cifar10Dataset"]

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLITS = ("train", "test")


def _torchvision_cifar10() -> Any:
    from torchvision.datasets import CIFAR10

    return CIFAR10


def check_cifar_folder(root: Path) -> list[str]:
    """Problems with ``root/cifar-10-batches-py`` (empty when every official file is present and its
    md5 matches torchvision's table)."""
    from torchvision.datasets.utils import check_integrity

    cls = _torchvision_cifar10()
    folder = root / CIFAR_FOLDER
    expected = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
    problems = []
    for filename, md5 in expected:
        path = folder / filename
        if not path.is_file():
            problems.append(f"{filename} (missing)")
        elif not check_integrity(str(path), md5):
            problems.append(f"{filename} (md5 mismatch)")
    return problems


def _candidate_roots(data_root: Path | None) -> list[Path]:
    roots = []
    for root in search_roots(data_root):
        roots.append(root.parent if root.name == CIFAR_FOLDER else root)
    return roots


def _find(roots: list[Path]) -> Path | None:
    """The first root whose CIFAR folder passes the check; raises when a folder exists but fails it."""
    for root in roots:
        if not (root / CIFAR_FOLDER).is_dir():
            continue
        problems = check_cifar_folder(root)
        if problems:
            raise DataUnavailableError(
                f"dataset 'cifar10': {root / CIFAR_FOLDER} is not the official CIFAR-10 python release "
                f"({'; '.join(problems)}); its files are not loaded (the loader unpickles them, so only files "
                f"matching the official md5 sums are accepted). Replace the folder with a fresh copy of "
                f"cifar-10-python.tar.gz, or remove it to download again."
            )
        return root
    return None


def load_cifar10(split: str, data_root: Path | None) -> tuple[torch.Tensor, torch.Tensor, Path]:
    """Images ``[N, 3, 32, 32]`` uint8, labels ``[N]`` int64, and the root they came from."""
    roots = _candidate_roots(data_root)
    root = _find(roots)
    if root is None:
        target = roots[0]  # --data-root when given (the parent when it names the CIFAR folder itself)

        def run() -> None:
            _torchvision_cifar10()(str(target), train=split == "train", download=True)

        reason = quiet_download(run, may_create=[target])
        root = _find(roots)
        if root is None:
            raise DataUnavailableError(
                f"dataset 'cifar10' (split {split!r}) is not available: no local files and the download failed "
                f"({reason or 'files still missing after download'}). Looked for {CIFAR_FOLDER}/ in: "
                f"{describe_dirs(roots)}. Point --data-root DIR at the folder that contains {CIFAR_FOLDER}/ "
                f"(the extracted official cifar-10-python.tar.gz)."
            )
    try:
        ds = _torchvision_cifar10()(str(root), train=split == "train", download=False)
    except Exception as exc:  # noqa: BLE001 - reported as one clear error
        raise DataUnavailableError(
            f"dataset 'cifar10': could not load {root / CIFAR_FOLDER} ({type(exc).__name__}: {exc})"
        ) from None
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.as_tensor(ds.targets, dtype=torch.int64)
    return images, labels, root


FIDELITY_INPUTS = {"train": "cifar10-train", "test": "cifar10-val"}
"""torch-fidelity's registered input holding each split's images."""


class Cifar10Dataset(DatasetSpec):
    name = "cifar10"
    summary = "CIFAR-10 colour images, 3x32x32 (10 classes); local files or torchvision download"
    reference = "Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html"
    options = {
        "split": Option("train", "which split: train (50,000) or test (10,000)", choices=SPLITS),
        "resolution": Option(32, "image side in pixels (32 native; 64 resized on the fly)", choices=(32, 64)),
    }

    def fidelity_reference(self) -> str | None:
        """torch-fidelity's registered CIFAR-10 inputs (the usual FID reference) at the native 32 px."""
        return FIDELITY_INPUTS[self.opts["split"]] if int(self.opts["resolution"]) == 32 else None

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        split, res = self.opts["split"], int(self.opts["resolution"])
        images, labels, _ = load_cifar10(split, data_root)
        info = image_info(
            self.name,
            (3, res, res),
            num_classes=10,
            num_modes=10,
            extras={"mode_labels": "label", "split": split, "class_names": list(CIFAR10_CLASSES)},
            class_names=tuple(CIFAR10_CLASSES),
        )
        # Not materialised (614 MB as float32 for the train split): items are converted (and, at 64 px,
        # resized) on access from the 150 MB uint8 array.
        return GanData(info=info, dataset=UInt8ImageDataset(images, labels, resolution=res))
