"""Mode-collapse metrics: the 2D mixture protocol or, for labelled image data, a domain classifier.

:func:`mode_metrics` picks the protocol from the dataset's :class:`~ganzoo.DataInfo`:

- ``info.mode_centres`` set (ring8, grid25): :func:`~ganzoo.metrics.modes2d.mode_metrics_2d`
  (2,500 samples);
- image data with ``info.num_modes`` set (shapes, mnist, stacked-mnist, ...): a classifier trained by
  ganzoo on the real data assigns each sample a mode; :func:`mode_metrics_classifier` reports the
  modes hit and ``KL(generated mode histogram || uniform)`` in nats (26,000 samples for stacked-mnist
  as VEEGAN and PacGAN; 10,000 otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch

from ganzoo.errors import GanzooError
from ganzoo.metrics.modes2d import PROTOCOL_2D_SAMPLES, kl_to_uniform, mode_metrics_2d
from ganzoo.specs import DataInfo
from ganzoo.metrics.classifier import get_classifier

__all__ = [
    "ModeAssigner",
    "IMAGE_SAMPLES",
    "default_num_samples",
    "mode_protocol",
    "mode_metrics_classifier",
    "mode_metrics",
]

IMAGE_SAMPLES = 10_000
"""Samples for the classifier protocol on other labelled image data."""


class ModeAssigner(Protocol):
    """What :func:`mode_metrics_classifier` needs of a classifier (a DomainClassifier, or a stub)."""

    name: str
    accuracy: float

    def assign_modes(self, x: torch.Tensor) -> torch.Tensor: ...


def mode_protocol(info: DataInfo) -> str:
    """``"2d"`` or ``"classifier"``; a :class:`GanzooError` when ``info`` has no known modes."""
    if info.mode_centres is not None:
        if info.mode_std is None:
            raise GanzooError(f"dataset {info.name!r} has mode centres but no mode_std; cannot compute mode metrics")
        return "2d"
    if info.kind == "image" and info.num_modes:
        return "classifier"
    raise GanzooError(
        f"dataset {info.name!r} has no known modes: mode metrics need a 2D Gaussian mixture (ring8, grid25) or "
        "labelled image data with known modes (shapes, mnist, fashion-mnist, stacked-mnist); drop 'modes' from --metrics"
    )


def default_num_samples(info: DataInfo) -> int:
    """Samples of the mode protocol for ``info``: its ``mode_num_samples`` (stacked MNIST: 26,000), else
    2,500 (2D) or 10,000 (classifier)."""
    if info.mode_num_samples is not None:
        return int(info.mode_num_samples)
    return PROTOCOL_2D_SAMPLES if mode_protocol(info) == "2d" else IMAGE_SAMPLES


def mode_metrics_classifier(samples: torch.Tensor, classifier: ModeAssigner, num_modes: int) -> dict[str, Any]:
    """Mode metrics of images ``samples`` ``[N, C, H, W]`` whose modes ``classifier`` assigns.

    Returns ``modes`` (distinct modes hit), ``reverse_kl`` (``KL(histogram || uniform over num_modes)``, nats),
    ``num_modes``, ``num_samples``, ``histogram`` (list of counts per mode), ``classifier`` (name),
    ``classifier_accuracy`` (its held-out accuracy) and ``protocol``.
    """
    if samples.shape[0] == 0:
        raise ValueError("mode_metrics_classifier needs at least one sample")
    if num_modes < 1:
        raise ValueError(f"num_modes must be at least 1; got {num_modes}")
    modes = torch.as_tensor(classifier.assign_modes(samples)).reshape(-1).to("cpu", torch.int64)
    if modes.numel() != samples.shape[0]:
        raise ValueError(f"{classifier.name}: assigned {modes.numel()} modes to {samples.shape[0]} samples")
    if int(modes.min()) < 0 or int(modes.max()) >= num_modes:
        raise ValueError(f"{classifier.name}: assigned modes outside 0..{num_modes - 1} "
                         f"(min {int(modes.min())}, max {int(modes.max())})")
    histogram = torch.bincount(modes, minlength=num_modes)
    return {
        "protocol": "classifier",
        "modes": int((histogram > 0).sum()),
        "reverse_kl": kl_to_uniform(histogram),
        "num_modes": int(num_modes),
        "num_samples": int(samples.shape[0]),
        "histogram": [int(v) for v in histogram.tolist()],
        "classifier": str(classifier.name),
        "classifier_accuracy": float(classifier.accuracy),
    }


def _default_getter(info: DataInfo) -> ModeAssigner:
    return get_classifier(info.name, stacked=info.stacked)


def mode_metrics(
    samples: torch.Tensor,
    info: DataInfo,
    *,
    classifier_getter: Callable[[DataInfo], ModeAssigner] = _default_getter,
    classifier: ModeAssigner | None = None,
) -> dict[str, Any]:
    """Mode metrics of generated ``samples`` for the dataset described by ``info`` (protocol by ``info``).

    ``classifier_getter(info)`` supplies the classifier for image data; ``classifier`` gives one directly. Raises :class:`GanzooError` when the dataset has no known modes.
    """
    if mode_protocol(info) == "2d":
        assert info.mode_centres is not None and info.mode_std is not None
        if samples.ndim != 2 or samples.shape[1] != len(info.mode_centres[0]):
            raise GanzooError(f"dataset {info.name!r}: 2D mode metrics need samples [N, "
                              f"{len(info.mode_centres[0])}]; got {tuple(samples.shape)}")
        return mode_metrics_2d(samples, info.mode_centres, info.mode_std)
    assert info.num_modes is not None
    if classifier is None:
        classifier = classifier_getter(info)
    return mode_metrics_classifier(samples, classifier, int(info.num_modes))
