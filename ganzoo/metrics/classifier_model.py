"""The domain classifier network: a small CNN, and the :class:`DomainClassifier` wrapper that metrics use.

Inputs are images ``[N, C, H, W]`` in [-1, 1]. Inputs of another size are resized (bilinear, with
antialiasing when shrinking) to the resolution the network was trained at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ClassifierNet", "DomainClassifier", "FEATURE_DIM"]

FEATURE_DIM = 128
"""Width of the penultimate layer, the size of :meth:`DomainClassifier.features`."""


def _conv_block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ClassifierNet(nn.Module):
    """conv32 -> pool -> conv64 -> pool -> conv64 -> FC 128 -> FC ``num_classes`` (BN after each conv)."""

    def __init__(self, channels: int, resolution: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        if resolution < 4:
            raise ValueError(f"classifier resolution must be at least 4; got {resolution}")
        self.channels, self.resolution, self.num_classes = int(channels), int(resolution), int(num_classes)
        self.body = nn.Sequential(
            *_conv_block(channels, width),
            nn.MaxPool2d(2),
            *_conv_block(width, 2 * width),
            nn.MaxPool2d(2),
            *_conv_block(2 * width, 2 * width),
        )
        side = resolution // 4
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * side * side, FEATURE_DIM), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


class DomainClassifier(nn.Module):
    """A trained classifier of a dataset's labels (or of its modes), used by mode and feature metrics.

    With ``stacked > 0`` the wrapped network is a single-channel digit classifier applied to each of
    the ``stacked`` channels separately (stacked MNIST): the label of an image is then
    ``sum_i digit_i * base**(stacked - 1 - i)``, i.e. ``100 * d_r + 10 * d_g + d_b`` for 3 channels,
    :attr:`num_classes` is ``base**stacked``, :meth:`logits` are the joint log-probabilities (the
    channels treated as independent) and :meth:`features` concatenates the per-channel features.
    """

    def __init__(
        self,
        net: ClassifierNet,
        *,
        name: str,
        accuracy: float,
        meta: dict[str, Any] | None = None,
        stacked: int = 0,
        batch_size: int = 500,
    ) -> None:
        super().__init__()
        self.net = net
        self.name = name
        self.accuracy = float(accuracy)
        self.meta: dict[str, Any] = dict(meta or {})
        self.stacked = int(stacked)
        self.batch_size = int(batch_size)
        self.eval()

    # ----------------------------------------------------------------- description
    @property
    def base_classes(self) -> int:
        """Classes of the wrapped network (10 digits for stacked MNIST)."""
        return self.net.num_classes

    @property
    def num_classes(self) -> int:
        return self.base_classes ** self.stacked if self.stacked else self.base_classes

    @property
    def resolution(self) -> int:
        return self.net.resolution

    @property
    def channels(self) -> int:
        """Channels the classifier expects (``stacked`` for stacked data)."""
        return self.stacked if self.stacked else self.net.channels

    @property
    def feature_dim(self) -> int:
        return FEATURE_DIM * (self.stacked or 1)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def train(self, mode: bool = True) -> DomainClassifier:  # always evaluates; training is internal
        super().train(False)
        return self

    def __repr__(self) -> str:
        return (f"DomainClassifier(name={self.name!r}, accuracy={self.accuracy:.4f}, num_classes={self.num_classes}, "
                f"channels={self.channels}, resolution={self.resolution})")

    # ----------------------------------------------------------------- input handling
    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Check channels, move to the device as float32, resize to the training resolution."""
        if x.ndim != 4:
            raise ValueError(f"{self.name}: expected images [N, C, H, W]; got shape {tuple(x.shape)}")
        if x.shape[1] != self.channels:
            raise ValueError(f"{self.name}: expected {self.channels} channel(s); got {x.shape[1]}")
        x = x.to(self.device, torch.float32)
        r = self.resolution
        if x.shape[-2:] != (r, r):
            shrink = x.shape[-1] > r or x.shape[-2] > r
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=shrink)
        return x

    def _batches(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        for i in range(0, x.shape[0], self.batch_size):
            yield self._prepare(x[i : i + self.batch_size])

    def _channels(self, xb: torch.Tensor) -> list[torch.Tensor]:
        return [xb[:, i : i + 1] for i in range(self.stacked)] if self.stacked else [xb]

    @torch.no_grad()
    def _map(self, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        self.net.eval()
        if x.shape[0] == 0:  # run one dummy image to get the output's trailing shape and dtype
            return fn(self._prepare(torch.zeros(1, *x.shape[1:])))[:0]
        return torch.cat([fn(xb) for xb in self._batches(x)])

    # ----------------------------------------------------------------- API
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]`` (differentiable, not batched)."""
        x = self._prepare(x)
        if not self.stacked:
            return self.net(x)
        return self._joint_log_probs([self.net(c) for c in self._channels(x)])

    @staticmethod
    def _joint_log_probs(logits: list[torch.Tensor]) -> torch.Tensor:
        """Joint log-probabilities over all channel-label tuples, the first channel most significant."""
        joint = F.log_softmax(logits[0], dim=1)
        for lg in logits[1:]:
            joint = (joint[:, :, None] + F.log_softmax(lg, dim=1)[:, None, :]).reshape(lg.shape[0], -1)
        return joint

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]`` float32 on the CPU, batched, without gradients (for IS)."""
        return self._map(x, lambda xb: self.forward(xb).float().cpu())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features ``[N, feature_dim]`` float32 on the CPU, batched, without gradients."""
        return self._map(x, lambda xb: torch.cat([self.net.features(c) for c in self._channels(xb)], 1).float().cpu())

    def digits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-channel labels ``[N, stacked]`` int64 (``[N, 1]`` when not stacked)."""
        return self._map(x, lambda xb: torch.stack([self.net(c).argmax(1) for c in self._channels(xb)], 1).cpu())

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Labels ``[N]`` int64 (for stacked data, the combined mode index)."""
        d = self.digits(x)
        weights = torch.tensor([self.base_classes ** (d.shape[1] - 1 - i) for i in range(d.shape[1])])
        return (d * weights).sum(1).to(torch.int64)

    def assign_modes(self, x: torch.Tensor) -> torch.Tensor:
        """Mode index ``[N]`` int64 of each image: its label, or ``100*d_r + 10*d_g + d_b`` when stacked."""
        return self.predict(x)
