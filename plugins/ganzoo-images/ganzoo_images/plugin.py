"""Entry point of the built-in ``ganzoo-images`` plugin: registers the image datasets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganzoo import hookimpl
from ganzoo_images.cifar import Cifar10Dataset
from ganzoo_images.folder import ImageFolderDataset
from ganzoo_images.mnist import FashionMnistDataset, MnistDataset
from ganzoo_images.shapes import ShapesDataset
from ganzoo_images.stacked import StackedMnistDataset


@hookimpl
def ganzoo_register_datasets(register: Callable[[Any], None]) -> None:
    register(ShapesDataset())
    register(MnistDataset())
    register(FashionMnistDataset())
    register(StackedMnistDataset())
    register(Cifar10Dataset())
    register(ImageFolderDataset())
