"""Reference inputs: deterministic cache names, cached statistics need no data, torch-fidelity names."""

from __future__ import annotations

import pytest

from ganzoo.errors import ConfigError
from ganzoo.metrics.fidelity import Extractor, fidelity_metrics
from ganzoo.metrics.reference import fidelity_cache_root, make_reference
from ganzoo.metrics.sources import UInt8Images
from ganzoo.specs import DataInfo

SHAPES16 = DataInfo(name="shapes", kind="image", shape=(3, 16, 16), num_classes=12, num_modes=12)
OPTIONS = {"resolution": 16, "size": 300}


def test_cache_root_follows_ganzoo_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path))
    assert fidelity_cache_root() == tmp_path / "fidelity"


def test_reference_statistics_are_cached_by_name(randconv, shapes_images):
    ref = make_reference(None, SHAPES16, dataset_options=OPTIONS)
    assert ref.cache_name.startswith("ganzoo-shapes-train-16px-") and ref.cache_name.endswith("-all")
    assert ref.cache_name == make_reference(None, SHAPES16, dataset_options=dict(OPTIONS)).cache_name
    assert ref.cache_name != make_reference(None, SHAPES16, dataset_options={**OPTIONS, "size": 301}).cache_name
    ext = Extractor(randconv, "randconv")
    gen = UInt8Images.from_float(shapes_images[:100])
    (first,) = fidelity_metrics(gen, ref, ["fid"], ext)
    assert ref.input.built and first.protocol["num_reference"] == 300
    again = make_reference(None, SHAPES16, dataset_options=OPTIONS)
    (second,) = fidelity_metrics(gen, again, ["fid"], ext)
    assert not again.input.built  # statistics and the image count came from the cache
    assert second.value == pytest.approx(first.value) and second.protocol["num_reference"] == 300
    assert second.protocol["reference"]["dataset"] == "shapes" and second.protocol["reference"]["seed"] == 0


def test_num_reference_subsets_deterministically(randconv, shapes_images):
    ref = make_reference(None, SHAPES16, dataset_options=OPTIONS, num_reference=120)
    assert ref.cache_name.endswith("-120") and ref.num_samples() == 120


def test_cifar10_uses_torch_fidelity_input_name():
    info = DataInfo(name="cifar10", kind="image", shape=(3, 32, 32), num_classes=10, num_modes=10)
    assert make_reference(None, info).cache_name == "cifar10-train"
    assert make_reference("cifar10:test", info).cache_name == "cifar10-val"
    assert make_reference("cifar10-train", info).origin == "torch-fidelity"
    assert make_reference(None, info, num_reference=1000).cache_name.startswith("ganzoo-cifar10-train-32px-")


def test_bad_references_are_config_errors():
    with pytest.raises(ConfigError, match="--reference 'nope'"):
        make_reference("nope", SHAPES16)
    with pytest.raises(ConfigError, match="has no splits"):
        make_reference("shapes:test", SHAPES16)
    with pytest.raises(ConfigError, match="--num-reference 1"):
        make_reference(None, SHAPES16, num_reference=1)
