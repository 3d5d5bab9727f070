"""Classifier protocol, the mode-metrics dispatcher and DomainClassifier's stacked assignment."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganzoo import DataInfo
from ganzoo.errors import GanzooError
from ganzoo.metrics.classifier_model import FEATURE_DIM, DomainClassifier
from ganzoo.metrics.modes import default_num_samples, mode_metrics, mode_metrics_classifier, mode_protocol
from ganzoo_vector.mixtures import ring_centres


class StubClassifier:
    """Reads the mode straight from pixel [0, 0, 0] (the label stored as a float)."""

    name = "classifier:stub"
    accuracy = 0.987

    def __init__(self) -> None:
        self.calls = 0

    def assign_modes(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x[:, 0, 0, 0].round().long()


def images_with_labels(labels: torch.Tensor) -> torch.Tensor:
    x = torch.zeros(labels.shape[0], 1, 4, 4)
    x[:, 0, 0, 0] = labels.float()
    return x


def test_uniform_labels_hit_all_modes_with_zero_kl() -> None:
    labels = torch.arange(1000) % 10
    m = mode_metrics_classifier(images_with_labels(labels), StubClassifier(), 10)
    assert m["modes"] == 10 and m["num_modes"] == 10 and m["num_samples"] == 1000
    assert m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert m["histogram"] == [100] * 10
    assert m["classifier"] == "classifier:stub" and m["classifier_accuracy"] == pytest.approx(0.987)
    assert m["protocol"] == "classifier"


def test_one_label_gives_one_mode_and_log_num_modes() -> None:
    m = mode_metrics_classifier(images_with_labels(torch.full((500,), 7)), StubClassifier(), 1000)
    assert m["modes"] == 1
    assert abs(m["reverse_kl"] - math.log(1000)) < 1e-6
    assert m["histogram"][7] == 500 and sum(m["histogram"]) == 500 and len(m["histogram"]) == 1000


def test_half_of_the_modes_gives_log2() -> None:
    labels = torch.arange(600) % 6
    m = mode_metrics_classifier(images_with_labels(labels), StubClassifier(), 12)
    assert m["modes"] == 6
    assert m["reverse_kl"] == pytest.approx(math.log(2), abs=1e-9)


def test_modes_outside_the_range_are_an_error() -> None:
    with pytest.raises(ValueError, match="outside"):
        mode_metrics_classifier(images_with_labels(torch.tensor([0, 12])), StubClassifier(), 12)
    with pytest.raises(ValueError):
        mode_metrics_classifier(torch.zeros(0, 1, 4, 4), StubClassifier(), 12)


# --------------------------------------------------------------------------- dispatcher

RING = DataInfo(name="ring8", kind="vector", shape=(2,), num_classes=8, num_modes=8,
                mode_centres=tuple(ring_centres(8)), mode_std=0.01)
SHAPES = DataInfo(name="shapes", kind="image", shape=(1, 4, 4), num_classes=12, num_modes=12)
STACKED = DataInfo(name="stacked-mnist", kind="image", shape=(3, 28, 28), num_modes=1000, stacked_from="mnist",
                   mode_num_samples=26_000)
CIFAR = DataInfo(name="cifar10", kind="image", shape=(3, 32, 32), num_classes=10)


def test_dispatcher_picks_the_2d_protocol_for_mixtures() -> None:
    def getter(info: DataInfo) -> StubClassifier:
        raise AssertionError("no classifier for 2D data")

    x = torch.tensor([ring_centres(8)[0]] * 20)
    m = mode_metrics(x, RING, classifier_getter=getter)
    assert m["protocol"] == "2d" and m["modes"] == 1 and m["high_quality"] == 1.0
    assert abs(m["reverse_kl"] - math.log(8)) < 1e-6
    with pytest.raises(GanzooError, match="samples"):
        mode_metrics(torch.zeros(5, 1, 4, 4), RING, classifier_getter=getter)


def test_dispatcher_uses_the_classifier_for_labelled_images() -> None:
    stub = StubClassifier()
    asked: list[str] = []

    def getter(info: DataInfo) -> StubClassifier:
        asked.append(info.name)
        return stub

    m = mode_metrics(images_with_labels(torch.arange(120) % 12), SHAPES, classifier_getter=getter)
    assert asked == ["shapes"] and stub.calls == 1
    assert m["modes"] == 12 and m["reverse_kl"] == pytest.approx(0.0, abs=1e-12) and m["num_modes"] == 12
    m2 = mode_metrics(images_with_labels(torch.zeros(5)), SHAPES, classifier=stub)
    assert m2["modes"] == 1 and asked == ["shapes"]


@pytest.mark.parametrize(
    "info",
    [CIFAR, DataInfo(name="blobs", kind="vector", shape=(2,), num_modes=3),
     DataInfo(name="bad", kind="vector", shape=(2,), mode_centres=((0.0, 0.0),))],
)
def test_dispatcher_refuses_data_without_known_modes(info: DataInfo) -> None:
    with pytest.raises(GanzooError, match=repr(info.name)):
        mode_metrics(torch.zeros(4, 2), info, classifier_getter=lambda name: StubClassifier())
    with pytest.raises(GanzooError):
        default_num_samples(info)


def test_default_num_samples() -> None:
    assert default_num_samples(RING) == 2_500
    assert default_num_samples(STACKED) == 26_000
    assert default_num_samples(SHAPES) == 10_000
    assert default_num_samples(SHAPES.replace(mode_num_samples=123)) == 123
    # The protocol's size comes from the data's description, never from its name.
    assert default_num_samples(STACKED.replace(name="any-name")) == 26_000
    assert mode_protocol(RING) == "2d" and mode_protocol(STACKED) == "classifier"


# --------------------------------------------------------------------------- DomainClassifier


class OracleNet(nn.Module):
    """A 'digit classifier' that reads the digit from the mean brightness: value = d / 9 * 2 - 1."""

    channels, resolution, num_classes = 1, 8, 10

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))
        self.seen_shapes: list[tuple[int, ...]] = []

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.seen_shapes.append(tuple(x.shape))
        return x.mean(dim=(1, 2, 3))[:, None].repeat(1, FEATURE_DIM) + self.dummy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.features(x)[:, :1]
        centres = torch.linspace(-1, 1, 10)[None, :]
        return -100.0 * (v - centres) ** 2


def digit_images(digits: torch.Tensor, res: int = 8) -> torch.Tensor:
    """``digits`` ``[N, C]`` -> constant images ``[N, C, res, res]``."""
    v = digits.float() / 9 * 2 - 1
    return v[:, :, None, None].expand(-1, -1, res, res).clone()


def test_stacked_assignment_combines_the_per_channel_digits() -> None:
    g = torch.Generator().manual_seed(0)
    digits = torch.randint(0, 10, (300, 3), generator=g)
    digits[:3] = torch.tensor([[1, 2, 3], [9, 0, 0], [0, 0, 7]])
    clf = DomainClassifier(OracleNet(), name="classifier:oracle:per-channel", accuracy=1.0, stacked=3, batch_size=64)
    assert clf.num_classes == 1000 and clf.channels == 3 and clf.feature_dim == 3 * FEATURE_DIM
    modes = clf.assign_modes(digit_images(digits))
    assert modes.dtype == torch.int64 and modes.shape == (300,)
    assert modes[:3].tolist() == [123, 900, 7]
    assert torch.equal(modes, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    assert torch.equal(clf.digits(digit_images(digits)), digits)
    logits = clf.logits(digit_images(digits[:10]))
    assert logits.shape == (10, 1000)
    assert torch.equal(logits.argmax(1), modes[:10])
    assert torch.allclose(logits.logsumexp(1), torch.zeros(10), atol=1e-4)  # joint log-probabilities
    assert clf.features(digit_images(digits[:5])).shape == (5, 3 * FEATURE_DIM)
    m = mode_metrics_classifier(digit_images(digits), clf, 1000)
    assert m["modes"] == len(set(modes.tolist()))


def test_inputs_are_resized_to_the_training_resolution_and_batched() -> None:
    net = OracleNet()
    clf = DomainClassifier(net, name="classifier:oracle", accuracy=1.0, batch_size=7)
    digits = torch.arange(20)[:, None] % 10
    pred = clf.predict(digit_images(digits, res=28))
    assert torch.equal(pred, digits[:, 0])
    assert all(s[1:] == (1, 8, 8) for s in net.seen_shapes) and max(s[0] for s in net.seen_shapes) <= 7
    assert clf.predict(torch.zeros(0, 1, 8, 8)).shape == (0,)
    assert clf.features(torch.zeros(0, 1, 8, 8)).shape == (0, FEATURE_DIM)
    with pytest.raises(ValueError, match="channel"):
        clf.predict(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError):
        clf.predict(torch.zeros(2, 8, 8))
