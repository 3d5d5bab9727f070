"""Training of the domain classifier on real labelled data (CPU-friendly, deterministic by seed)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganzoo.metrics.classifier_model import ClassifierNet

__all__ = ["TrainSettings", "TrainResult", "train_classifier", "resize_images", "MAX_TRAIN_RESOLUTION"]

MAX_TRAIN_RESOLUTION = 32
"""Larger images are downsampled to this size for training (and at prediction time): digits, shapes
and clothes are recognisable at 32 px, and it keeps training quick on a CPU."""


@dataclass(frozen=True)
class TrainSettings:
    holdout: float = 0.15
    """Fraction of the data held out to measure accuracy."""
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    min_epochs: int = 2
    max_epochs: int = 20
    sample_budget: int = 30_000
    """Training stops after about this many samples seen (within ``min_epochs..max_epochs`` epochs)."""
    stop_train_accuracy: float = 0.999
    """After ``min_epochs``, stop early once an epoch's (augmented) training accuracy reaches this."""
    shift: float = 0.08
    """Largest random translation, as a fraction of the image side (augmentation)."""
    eval_batch_size: int = 1000

    def epochs(self, n_train: int) -> int:
        return max(self.min_epochs, min(self.max_epochs, math.ceil(self.sample_budget / max(1, n_train))))


@dataclass
class TrainResult:
    net: ClassifierNet
    accuracy: float
    num_train: int
    num_holdout: int
    epochs: int
    seconds: float


def training_resolution(resolution: int) -> int:
    return min(int(resolution), MAX_TRAIN_RESOLUTION)


def resize_images(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Resize ``[N, C, H, W]`` to ``resolution`` x ``resolution`` (antialiased when shrinking)."""
    if x.shape[-2:] == (resolution, resolution):
        return x
    out = []
    shrink = x.shape[-1] > resolution or x.shape[-2] > resolution
    for i in range(0, x.shape[0], 2048):
        out.append(F.interpolate(x[i : i + 2048].float(), size=(resolution, resolution), mode="bilinear",
                                 align_corners=False, antialias=shrink))
    return torch.cat(out)


def _augment(x: torch.Tensor, shift: float, g: torch.Generator) -> torch.Tensor:
    """Random per-sample translations by up to ``shift`` of the side (edges repeat the border)."""
    if shift <= 0:
        return x
    n = x.shape[0]
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    theta[:, :, 2] = (torch.rand(n, 2, generator=g) * 2 - 1) * (2 * shift)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.no_grad()
def evaluate(net: ClassifierNet, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Accuracy of ``net`` on ``(x, y)``."""
    if x.shape[0] == 0:
        return float("nan")
    net.eval()
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        correct += int((net(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    return correct / x.shape[0]


def train_classifier(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    *,
    seed: int = 0,
    settings: TrainSettings = TrainSettings(),
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a :class:`ClassifierNet` on images ``x`` ``[N, C, H, W]`` in [-1, 1] with labels ``y`` ``[N]``.

    A random ``settings.holdout`` part (by ``seed``) is held out; its accuracy is returned.
    """
    start = time.perf_counter()
    if x.ndim != 4 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected images [N, C, H, W] and labels [N]; got {tuple(x.shape)} and {tuple(y.shape)}")
    res = training_resolution(x.shape[-1])
    x = resize_images(x.float(), res)
    y = y.long()
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(x.shape[0], generator=g)
    n_hold = max(1, round(settings.holdout * x.shape[0])) if x.shape[0] > 1 else 0
    hold, train = perm[:n_hold], perm[n_hold:]
    x_tr, y_tr, x_ho, y_ho = x[train], y[train], x[hold].to(device), y[hold].to(device)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ClassifierNet(x.shape[1], res, num_classes).to(device)
    epochs = settings.epochs(x_tr.shape[0])
    steps_per_epoch = math.ceil(x_tr.shape[0] / settings.batch_size)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.2)
    epochs_run = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)  # dropout
        for epoch in range(epochs):
            net.train()
            order = torch.randperm(x_tr.shape[0], generator=g)
            total, correct = 0.0, 0
            for i in range(0, order.numel(), settings.batch_size):
                idx = order[i : i + settings.batch_size]
                if idx.numel() < 2:  # BatchNorm needs two samples
                    continue
                xb = _augment(x_tr[idx], settings.shift, g).to(device)
                yb = y_tr[idx].to(device)
                logits = net(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * idx.numel()
                correct += int((logits.detach().argmax(1) == yb).sum())
            train_acc = correct / max(1, x_tr.shape[0])
            epochs_run = epoch + 1
            if progress is not None:
                progress(f"epoch {epochs_run}/{epochs}: loss {total / max(1, x_tr.shape[0]):.4f}, "
                         f"train accuracy {train_acc:.4f}")
            if epochs_run >= settings.min_epochs and train_acc >= settings.stop_train_accuracy:
                break
    net.eval()
    acc = evaluate(net, x_ho, y_ho, settings.eval_batch_size)
    return TrainResult(net.cpu(), acc, int(x_tr.shape[0]), int(n_hold), epochs_run, time.perf_counter() - start)
