"""``ifid``: intra-class FID of a class-conditional generator, through torch-fidelity with the offline
classifier extractor; and FID of a conditional generator drawing its labels uniformly."""

from __future__ import annotations

import pytest
import torch

import ganzoo.metrics.builtin as builtin
from ganzoo.errors import GanzooError
from ganzoo.metrics.evaluate import evaluate
from ganzoo.metrics.sources import GeneratorSource
from ganzoo.plugins import PluginHost

from tests.metrics.conftest import TOY_CLASSES, toy_images

KEY = "ifid[classifier:toy-digits]"


def _toy_source(host: PluginHost, *, conditional: bool = True, follow_labels: bool = True,
                seen: list[torch.Tensor] | None = None, **options: object) -> GeneratorSource:
    """Fresh toy images of the requested class (``follow_labels``), or of a class drawn from the latent
    whatever the label says; ``seen`` collects the labels the generator was given."""
    info = host.datasets.get("toy-digits").with_options(dict(options)).build(data_root=None, seed=0).info

    def generate(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if seen is not None and labels is not None:
            seen.append(labels.cpu())
        g = torch.Generator().manual_seed(int(z[0, 0].abs().item() * 1e6) % (2**31))
        if labels is None or not follow_labels:
            labels = (z[:, 1].abs() * 1e4).long() % TOY_CLASSES
        return toy_images(labels.cpu(), 1, g)

    return GeneratorSource(info=info, latent_dim=4, latent_distribution="normal", generate=generate,
                           num_classes=TOY_CLASSES if conditional else 0, dataset_options={"size": 400, **options})


@pytest.fixture
def fid_host(host: PluginHost) -> PluginHost:
    host.add_plugin(builtin, "builtin-metrics")
    return host


def test_ifid_is_registered_with_its_catalogue_entry() -> None:
    from ganzoo.metrics.catalogue import metric_for_value, metric_names, value_info

    assert "ifid" in metric_names()
    assert metric_for_value("ifid[classifier:shapes]").name == "ifid"
    assert value_info("ifid").direction == "min"
    assert value_info("ifid[classifier:shapes]").label == "intra-FID [classifier:shapes]"


def test_ifid_of_a_generator_that_follows_its_labels_beats_one_that_ignores_them(fid_host: PluginHost) -> None:
    good = evaluate(_toy_source(fid_host), ["ifid"], num_samples=200, feature_extractor="classifier", host=fid_host)
    (res,) = good.results
    assert res.key == KEY and res.metric == "ifid"
    proto = res.protocol
    per_class = [proto[f"ifid_class_{k}"] for k in range(TOY_CLASSES)]
    assert sum(per_class) / TOY_CLASSES == pytest.approx(res.value)
    assert proto["num_per_class"] == 50 and proto["extractor"] == "classifier:toy-digits"
    assert proto["num_reference_min"] == 100  # 400 toy images, 100 of each class
    bad = evaluate(_toy_source(fid_host, follow_labels=False), ["ifid", "fid"], num_samples=200,
                   feature_extractor="classifier", host=fid_host)
    worse, fid = bad.find("ifid"), bad.find("fid")
    assert worse is not None and fid is not None
    assert worse.value > 3 * res.value, (res.value, worse.value)
    # Ignoring the labels leaves the overall distribution right: FID cannot see it, intra-class FID does.
    assert fid.value < 0.2 * worse.value, (fid.value, worse.value)
    assert all(worse.protocol[f"ifid_class_{k}"] > per_class[k] for k in range(TOY_CLASSES))
    # Deterministic; the second evaluation reads the real per-class statistics and counts from the cache.
    again = evaluate(_toy_source(fid_host), ["ifid"], num_samples=200, feature_extractor="classifier", host=fid_host)
    assert again.results[0].value == res.value and again.results[0].protocol["num_reference_min"] == 100
    assert again.results[0].protocol["reference"]["num_samples"] == 400


def test_ifid_of_an_unconditional_generator_is_an_error(fid_host: PluginHost) -> None:
    with pytest.raises(GanzooError, match="--metrics ifid: ifid needs a class-conditional generator"):
        evaluate(_toy_source(fid_host, conditional=False), ["ifid"], num_samples=40, feature_extractor="classifier",
                 host=fid_host)


def test_ifid_applies_only_to_labelled_images(fid_host: PluginHost) -> None:
    spec = fid_host.metrics.get("ifid")
    datasets = fid_host.datasets
    assert spec.applies(datasets.get("toy-digits").with_options({}).build(data_root=None, seed=0).info) is None
    unlabelled = datasets.get("toy-digits").with_options({"labelled": False}).build(data_root=None, seed=0).info
    assert "no classes" in spec.applies(unlabelled)
    assert "scores images" in spec.applies(datasets.get("toy-vectors").with_options({}).build(data_root=None, seed=0).info)
    with pytest.raises(GanzooError, match="ifid needs labelled data"):
        evaluate(_toy_source(fid_host, labelled=False), ["ifid"], num_samples=40, host=fid_host)


def test_fid_of_a_conditional_generator_draws_every_class_uniformly(fid_host: PluginHost) -> None:
    seen: list[torch.Tensor] = []
    report = evaluate(_toy_source(fid_host, seen=seen), ["fid", "ifid"], num_samples=400, feature_extractor="classifier",
                      host=fid_host)
    fid = report.find("fid")
    assert fid is not None and fid.protocol["class_sampling"] == f"uniform at random over the {TOY_CLASSES} classes"
    assert report.find("ifid") is not None
    labels = torch.cat(seen)
    counts = torch.bincount(labels, minlength=TOY_CLASSES)
    assert labels.numel() == 800  # 400 for fid (random labels), 4 x 100 for ifid (one label each)
    assert counts.min() >= 150, counts  # each class ~100 from fid + 100 from ifid
