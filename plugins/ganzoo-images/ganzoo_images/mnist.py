"""``mnist`` and ``fashion-mnist`` from the standard IDX files (raw or gzip), local first.

Files are looked for in each search root itself and in torchvision's layout ``ROOT/MNIST/raw`` (or
``ROOT/FashionMNIST/raw``); the roots are ``--data-root`` (when given) then the default data dir
(``$GANZOO_DATA_DIR`` or ``~/.cache/ganzoo/data``). Missing files are downloaded with torchvision;
offline, one :class:`DataUnavailableError` says what was looked for and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from ganzoo import DatasetSpec, GanData, Option
from ganzoo.errors import DataUnavailableError
from ganzoo_images.download import describe_dirs, download_root, quiet_download, search_roots
from ganzoo_images.idx import read_idx_images, read_idx_labels
from ganzoo_images.imagedata import image_data, image_info, resize_uint8

__all__ = ["MnistFamily", "MNIST", "FASHION_MNIST", "MnistDataset", "FashionMnistDataset", "load_split", "split_files"]

SPLITS = ("train", "test")
_PREFIX = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class MnistFamily:
    """One IDX dataset of the MNIST family: its ganzoo name and torchvision's folder/class name."""

    name: str
    torchvision_class: str
    class_names: tuple[str, ...]

    @property
    def raw_folder(self) -> str:
        return f"{self.torchvision_class}/raw"


MNIST = MnistFamily("mnist", "MNIST", tuple(str(i) for i in range(10)))
FASHION_MNIST = MnistFamily(
    "fashion-mnist",
    "FashionMNIST",
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)


def split_files(split: str) -> dict[str, list[str]]:
    """Accepted file names for a split, preferred first: ``{"images": [...], "labels": [...]}``."""
    p = _PREFIX[split]
    out: dict[str, list[str]] = {}
    for what, idx in (("images", "idx3"), ("labels", "idx1")):
        stems = [f"{p}-{what}-{idx}-ubyte", f"{p}-{what}.{idx}-ubyte"]  # the second: a common re-packaging
        out[what] = [s + ext for s in stems for ext in ("", ".gz")]
    return out


def search_dirs(family: MnistFamily, data_root: Path | None) -> list[Path]:
    dirs: list[Path] = []
    for root in search_roots(data_root):
        dirs += [root, root / family.raw_folder]
    return dirs


def find_split(family: MnistFamily, split: str, dirs: list[Path]) -> tuple[Path, Path] | None:
    """The first directory holding both the images and the labels file of ``split``."""
    names = split_files(split)
    for d in dirs:
        images = next((d / n for n in names["images"] if (d / n).is_file()), None)
        labels = next((d / n for n in names["labels"] if (d / n).is_file()), None)
        if images is not None and labels is not None:
            return images, labels
    return None


def _download(family: MnistFamily, split: str, root: Path) -> str | None:
    def run() -> None:
        import torchvision.datasets as tvd

        getattr(tvd, family.torchvision_class)(str(root), train=split == "train", download=True)

    raw = root / family.raw_folder
    return quiet_download(run, may_create=[root, raw.parent, raw])


def _unavailable(
    family: MnistFamily, split: str, dirs: list[Path], reason: str | None, dataset: str | None = None
) -> DataUnavailableError:
    names = split_files(split)
    wanted = f"{names['images'][0]}[.gz] and {names['labels'][0]}[.gz]"
    if dataset in (None, family.name):
        subject = f"dataset {family.name!r} (split {split!r}) is"
    else:
        subject = f"dataset {dataset!r} needs {family.name} (split {split!r}), which is"
    msg = (
        f"{subject} not available: no local files and the download "
        f"failed ({reason or 'files still missing after download'}). Looked for {wanted} in: {describe_dirs(dirs)}."
    )
    other = "test" if split == "train" else "train"
    found_other = find_split(family, other, dirs)
    if found_other is not None:
        msg += f" The {other} split is there ({found_other[0].parent}): use --set dataset.split={other}."
    else:
        example = split_files(split)["images"][1]
        msg += (
            f" Point --data-root DIR at a folder holding the IDX files (e.g. {example}), or use "
            f"--set dataset.split={other} if you have the {other} files."
        )
    return DataUnavailableError(msg)


def load_split(
    family: MnistFamily, split: str, data_root: Path | None, *, dataset: str | None = None
) -> tuple[torch.Tensor, torch.Tensor, Path]:
    """Images ``[N, 28, 28]`` uint8, labels ``[N]`` int64 and the directory they came from.

    ``dataset`` names the requesting dataset in errors (e.g. ``stacked-mnist``)."""
    if split not in SPLITS:
        raise DataUnavailableError(f"dataset {family.name!r}: unknown split {split!r}; use one of {', '.join(SPLITS)}")
    dirs = search_dirs(family, data_root)
    found = find_split(family, split, dirs)
    if found is None:
        reason = _download(family, split, download_root(data_root))
        found = find_split(family, split, dirs)
        if found is None:
            raise _unavailable(family, split, dirs, reason, dataset)
    images_path, labels_path = found
    images = read_idx_images(images_path, (28, 28))
    labels = read_idx_labels(labels_path, len(family.class_names))
    if images.shape[0] != labels.shape[0]:
        raise DataUnavailableError(
            f"corrupt {family.name} files: {images_path} holds {images.shape[0]} images but {labels_path} "
            f"holds {labels.shape[0]} labels"
        )
    if images.shape[0] == 0:
        raise DataUnavailableError(f"dataset {family.name!r}: {images_path} holds no images")
    return images, labels, images_path.parent


class _MnistLike(DatasetSpec):
    family: ClassVar[MnistFamily]
    options = {
        "split": Option("train", "which split to read: train (60,000) or test (10,000)", choices=SPLITS),
        "resolution": Option(28, "image side in pixels (28 native; 32 and 64 are resized)", choices=(28, 32, 64)),
    }

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        split, res = self.opts["split"], int(self.opts["resolution"])
        images, labels, _ = load_split(self.family, split, data_root)
        images = resize_uint8(images.unsqueeze(1), res)
        info = image_info(
            self.name,
            (1, res, res),
            num_classes=10,
            num_modes=10,
            extras={"mode_labels": "label", "split": split, "class_names": list(self.family.class_names)},
            class_names=tuple(self.family.class_names),
        )
        return image_data(info, images, labels)


class MnistDataset(_MnistLike):
    name = "mnist"
    summary = "MNIST handwritten digits, 1x28x28 (10 classes); local IDX files or torchvision download"
    reference = "LeCun et al. 1998, http://yann.lecun.com/exdb/mnist/"
    family = MNIST


class FashionMnistDataset(_MnistLike):
    name = "fashion-mnist"
    summary = "Fashion-MNIST clothing images, 1x28x28 (10 classes); local IDX files or torchvision download"
    reference = "Xiao et al. 2017, arXiv:1708.07747, https://github.com/zalandoresearch/fashion-mnist"
    family = FASHION_MNIST
