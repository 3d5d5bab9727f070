"""``stacked-mnist``: three MNIST digits as the R, G and B channels, 1,000 modes.

Memory-conscious: the dataset keeps the (resized) uint8 MNIST images once plus a ``[size, 3]``
table of digit indices drawn from the seed, and composes each item on access. The float tensors are
materialised only when they fit the materialise limit (so the default 128,000 items are lazy).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from ganzoo import DatasetSpec, GanData, Option
from ganzoo_images.imagedata import MATERIALISE_LIMIT_BYTES, image_info, resize_uint8, to_unit_range
from ganzoo_images.mnist import MNIST, SPLITS, load_split

__all__ = ["StackedDigits", "stacked_labels", "StackedMnistDataset"]


def stacked_labels(digit_labels: torch.Tensor, triplets: torch.Tensor) -> torch.Tensor:
    """``100 * d_r + 10 * d_g + d_b`` for index triplets ``[N, 3]`` into ``digit_labels``."""
    d = digit_labels[triplets]
    return d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2]


STACKED_PROTOCOL_SAMPLES = 26_000
"""Generated samples of the stacked-MNIST mode protocol (VEEGAN, PacGAN)."""


class StackedDigits(Dataset):
    """Items composed on the fly: channel ``c`` of item ``i`` is digit image ``triplets[i, c]``."""

    def __init__(self, digits: torch.Tensor, triplets: torch.Tensor, labels: torch.Tensor) -> None:
        if digits.dtype != torch.uint8 or digits.ndim != 3:
            raise ValueError("digits must be uint8 [N, H, W]")
        self.digits = digits
        self.triplets = triplets
        self.labels = labels

    def __len__(self) -> int:
        return self.triplets.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return to_unit_range(self.digits[self.triplets[index]]), self.labels[index]

    def materialise(self) -> torch.Tensor:
        """All items as one float32 tensor ``[N, 3, H, W]``."""
        n, (h, w) = len(self), self.digits.shape[1:]
        x = torch.empty(n, 3, h, w)
        for i in range(0, n, 4096):
            x[i : i + 4096] = to_unit_range(self.digits[self.triplets[i : i + 4096]])
        return x


class StackedMnistDataset(DatasetSpec):
    name = "stacked-mnist"
    summary = "three MNIST digits stacked as RGB channels, 3x28x28, 1000 modes (label 100*r + 10*g + b)"
    reference = "Metz et al. 2017 (Unrolled GAN); Srivastava et al. 2017 (VEEGAN); Lin et al. 2018 (PacGAN)"
    options = {
        "split": Option("train", "MNIST split the digits come from (train or test)", choices=SPLITS),
        "size": Option(128_000, "number of stacked images (composed on the fly)", minimum=1, maximum=10_000_000),
        "resolution": Option(28, "image side in pixels (28 native; 32 resized)", choices=(28, 32)),
    }

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        split, n, res = self.opts["split"], int(self.opts["size"]), int(self.opts["resolution"])
        images, digit_labels, _ = load_split(MNIST, split, data_root, dataset=self.name)
        digits = resize_uint8(images.unsqueeze(1), res).squeeze(1).contiguous()
        g = torch.Generator().manual_seed(int(seed) * 1_000_003 + 31_337)
        triplets = torch.randint(digits.shape[0], (n, 3), generator=g)
        labels = stacked_labels(digit_labels, triplets)
        dataset = StackedDigits(digits, triplets, labels)
        info = image_info(
            self.name,
            (3, res, res),
            num_classes=1000,
            num_modes=1000,
            extras={"mode_labels": "digits-per-channel", "base_dataset": "mnist", "split": split},
            stacked_from=MNIST.name,
            mode_num_samples=STACKED_PROTOCOL_SAMPLES,
        )
        tensors = None
        data: Dataset = dataset
        if n * 3 * res * res * 4 <= MATERIALISE_LIMIT_BYTES:
            x = dataset.materialise()
            tensors = (x, labels)
            data = torch.utils.data.TensorDataset(x, labels)
        return GanData(info=info, dataset=data, tensors=tensors)
