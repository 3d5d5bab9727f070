"""``cas``: the domain classifier's accuracy on per-class samples of a class-conditional generator (GAN-test)."""

from __future__ import annotations

import functools
import math

import pytest
import torch

import ganzoo.metrics.builtin as builtin
import ganzoo.metrics.classifier as classifier_module
from ganzoo.errors import GanzooError
from ganzoo.metrics.evaluate import evaluate
from ganzoo.metrics.sources import GeneratorSource
from ganzoo.plugins import PluginHost

from tests.metrics.conftest import TOY_CLASSES, toy_images


def _toy_source(host: PluginHost, *, conditional: bool, follow_labels: bool = True) -> GeneratorSource:
    """A stand-in generator of fresh toy images: of the requested class (``follow_labels``), or of a class
    drawn from its latent whatever the label says."""
    info = host.datasets.get("toy-digits").with_options({}).build(data_root=None, seed=0).info

    def generate(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(z[0, 0].abs().item() * 1e6) % (2**31))
        if labels is None or not follow_labels:
            labels = (z[:, 1].abs() * 1e4).long() % TOY_CLASSES
        return toy_images(labels.cpu(), 1, g)

    return GeneratorSource(info=info, latent_dim=4, latent_distribution="normal", generate=generate,
                           num_classes=TOY_CLASSES if conditional else 0, dataset_options={"size": 400})


@pytest.fixture
def cas_host(host: PluginHost, monkeypatch: pytest.MonkeyPatch, cache_dir) -> PluginHost:
    """The toy-dataset host with the built-in metrics; cas finds its classifier in that host."""
    host.add_plugin(builtin, "builtin-metrics")
    monkeypatch.setattr(classifier_module, "get_classifier",
                        functools.partial(classifier_module.get_classifier, host=host, cache_dir=cache_dir))
    return host


def test_cas_is_registered_with_its_catalogue_entry() -> None:
    from ganzoo.metrics.catalogue import metric_for_value, value_info

    assert metric_for_value("cas").name == "cas"
    v = value_info("cas")
    assert v.direction == "max" and v.percent and v.text(0.5).startswith("50.0")


def test_cas_of_a_generator_that_follows_its_labels_is_the_classifier_accuracy(cas_host: PluginHost) -> None:
    report = evaluate(_toy_source(cas_host, conditional=True), ["cas"], num_samples=200, host=cas_host)
    (res,) = report.results
    assert res.key == "cas" and res.value >= 0.95
    proto = res.protocol
    assert proto["metric_plugin"] == "cas" and proto["num_per_class"] == 50
    assert proto["classifier_accuracy"] >= 0.95
    per_class = [proto[f"cas_class_{k}"] for k in range(TOY_CLASSES)]
    assert all(a >= 0.9 for a in per_class) and sum(per_class) / TOY_CLASSES == pytest.approx(res.value)
    # Deterministic for the same seed.
    again = evaluate(_toy_source(cas_host, conditional=True), ["cas"], num_samples=200, host=cas_host)
    assert again.results[0].value == res.value


def test_cas_of_a_generator_that_ignores_its_labels_is_chance(cas_host: PluginHost) -> None:
    report = evaluate(_toy_source(cas_host, conditional=True, follow_labels=False), ["cas"], num_samples=400,
                      host=cas_host)
    value = report.results[0].value
    assert abs(value - 1 / TOY_CLASSES) < 0.1, value


def test_cas_of_an_unconditional_generator_is_an_error(cas_host: PluginHost) -> None:
    with pytest.raises(GanzooError, match="cas needs a class-conditional generator"):
        evaluate(_toy_source(cas_host, conditional=False), ["cas"], num_samples=40, host=cas_host)


def test_cas_applies_only_to_labelled_images(cas_host: PluginHost) -> None:
    spec = cas_host.metrics.get("cas")
    assert spec.applies(cas_host.datasets.get("toy-digits").with_options({}).build(data_root=None, seed=0).info) is None
    unlabelled = cas_host.datasets.get("toy-digits").with_options({"labelled": False}).build(data_root=None, seed=0).info
    assert "no classes" in spec.applies(unlabelled)
    vectors = cas_host.datasets.get("toy-vectors").with_options({}).build(data_root=None, seed=0).info
    assert "scores images" in spec.applies(vectors)


# --------------------------------------------------------------------------- the real shapes dataset

shapes = pytest.importorskip("ganzoo_images.shapes")
SHAPES_OPTS = {"resolution": 16, "size": 1200}


def _shapes_source(*, follow_labels: bool) -> GeneratorSource:
    """Fresh real shapes images (another seed than the training data) of the requested class, or of a
    class that ignores the label; dataset options reach the classifier through the metric context."""
    from ganzoo.plugins import get_host

    fresh = get_host().datasets.get("shapes").with_options({**SHAPES_OPTS, "size": 1200}).build(data_root=None, seed=4242)
    x, y = fresh.tensors
    pools = [x[y == k] for k in range(shapes.NUM_MODES)]
    state = {"i": 0}

    def generate(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        n = z.shape[0]
        ks = labels.tolist() if follow_labels and labels is not None else [(state["i"] + i) % shapes.NUM_MODES for i in range(n)]
        out = []
        for k in ks:
            pool = pools[int(k)]
            out.append(pool[state["i"] % len(pool)])
            state["i"] += 1
        return torch.stack(out).float()

    return GeneratorSource(info=fresh.info, latent_dim=4, latent_distribution="normal", generate=generate,
                           num_classes=shapes.NUM_MODES, dataset_options=dict(SHAPES_OPTS))


@pytest.mark.slow
def test_cas_on_shapes_follows_the_labels_or_is_chance() -> None:
    good = evaluate(_shapes_source(follow_labels=True), ["cas"], num_samples=360)
    res = good.results[0]
    assert res.protocol["classifier_accuracy"] >= 0.95
    assert res.value >= min(0.9, res.protocol["classifier_accuracy"] - 0.05), res
    bad = evaluate(_shapes_source(follow_labels=False), ["cas"], num_samples=360)
    assert abs(bad.results[0].value - 1 / shapes.NUM_MODES) < 0.08, bad.results[0]
    assert math.isfinite(bad.results[0].value)
