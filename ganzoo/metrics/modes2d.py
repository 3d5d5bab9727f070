"""Mode coverage on 2D Gaussian mixtures: the protocol of VEEGAN, PacGAN and GDPP.

A sample is *high quality* when it lies within ``3 * std`` of its nearest mixture centre. A mode is
*captured* when it is the nearest centre of at least one high-quality sample. The *reverse KL* is
``KL(p || uniform)`` (natural log) where ``p`` is the histogram of the high-quality samples over the
modes (each sample counted at its nearest centre).

Edge case: with no high-quality sample the histogram is empty and ``p`` is undefined. We then report
``modes = 0``, ``high_quality = 0.0`` and ``reverse_kl = inf`` (shown as "no high-quality samples"):
distinct from the ``log(num_modes)`` of a generator that covers one mode, and worse than any
finite value, so a generator that produces nothing usable never ranks level with one that works.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["PROTOCOL_2D_SAMPLES", "HQ_THRESHOLD_STD", "mode_metrics_2d", "nearest_mode", "kl_to_uniform"]

PROTOCOL_2D_SAMPLES = 2_500
"""Number of generated samples of the 2D protocol."""

HQ_THRESHOLD_STD = 3.0
"""A sample is high quality within this many standard deviations of its nearest centre."""


def kl_to_uniform(histogram: torch.Tensor) -> float:
    """``KL(p || uniform)`` in nats for a histogram of counts over ``len(histogram)`` bins.

    An empty histogram (all zeros) gives ``log(len(histogram))``, the KL of a single-bin spike.
    """
    counts = histogram.to(torch.float64).reshape(-1)
    k = counts.numel()
    if k == 0:
        raise ValueError("histogram has no bins")
    total = counts.sum()
    if total <= 0:
        return math.log(k)
    p = counts / total
    nz = p > 0
    return float((p[nz] * torch.log(p[nz] * k)).sum().clamp_min(0.0))


def nearest_mode(samples: torch.Tensor, centres: torch.Tensor, std: float, *,
                 threshold_std: float = HQ_THRESHOLD_STD) -> tuple[torch.Tensor, torch.Tensor]:
    """``(nearest, high_quality)`` per sample: the index of its nearest centre, and whether it lies within
    ``threshold_std * std`` of it (a non-finite sample never does)."""
    finite = torch.isfinite(samples).all(dim=1)
    nearest_dist, nearest = torch.cdist(torch.where(finite[:, None], samples, torch.zeros_like(samples)), centres).min(dim=1)
    return nearest, finite & (nearest_dist <= threshold_std * std)


def mode_metrics_2d(
    samples: torch.Tensor,
    centres: Sequence[Sequence[float]] | torch.Tensor,
    std: float,
    *,
    threshold_std: float = HQ_THRESHOLD_STD,
) -> dict[str, Any]:
    """Mode metrics of ``samples`` ``[N, 2]`` against a mixture with ``centres`` ``[M, 2]`` and ``std``.

    Returns a dict with ``modes`` (int, captured modes), ``high_quality`` (fraction in [0, 1]),
    ``reverse_kl`` (nats; ``inf`` without a high-quality sample), ``num_modes``, ``num_samples``, ``num_high_quality``,
    ``histogram`` (list of high-quality counts per mode), ``protocol`` and ``threshold_std``.
    Non-finite samples count as not high quality.
    """
    x = torch.as_tensor(samples).detach().to("cpu", torch.float64)
    c = torch.as_tensor(centres, dtype=torch.float64).detach().cpu()
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples must be [N, D] and centres [M, D] with the same D; got {tuple(x.shape)} "
                         f"and {tuple(c.shape)}")
    if x.shape[0] == 0:
        raise ValueError("mode_metrics_2d needs at least one sample")
    if c.shape[0] == 0:
        raise ValueError("mode_metrics_2d needs at least one centre")
    if not (std > 0 and math.isfinite(std)):
        raise ValueError(f"std must be a positive number; got {std!r}")
    num_modes = int(c.shape[0])
    nearest, hq = nearest_mode(x, c, std, threshold_std=threshold_std)
    histogram = torch.bincount(nearest[hq], minlength=num_modes)
    num_hq = int(hq.sum())
    kl = kl_to_uniform(histogram) if num_hq else math.inf
    return {
        "protocol": "2d",
        "modes": int((histogram > 0).sum()),
        "high_quality": num_hq / x.shape[0],
        "reverse_kl": kl,
        "num_modes": num_modes,
        "num_samples": int(x.shape[0]),
        "num_high_quality": num_hq,
        "histogram": [int(v) for v in histogram.tolist()],
        "threshold_std": float(threshold_std),
    }
