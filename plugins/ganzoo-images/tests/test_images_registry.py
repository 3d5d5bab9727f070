"""The plugin registers every image dataset, with metadata and options."""

from __future__ import annotations

import pytest

from ganzoo import DatasetSpec
from ganzoo.errors import ConfigError
from ganzoo.plugins import get_host

EXPECTED = {
    "shapes": {"resolution": 32, "size": 10_000},
    "mnist": {"split": "train", "resolution": 28},
    "fashion-mnist": {"split": "train", "resolution": 28},
    "stacked-mnist": {"split": "train", "size": 128_000, "resolution": 28},
    "cifar10": {"split": "train", "resolution": 32},
    "image-folder": {"path": "", "resolution": 64, "channels": 3, "labels": "subfolder"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registered(name: str) -> None:
    entry = get_host().datasets.entry(name)
    assert entry.plugin == "ganzoo-images"
    spec = entry.spec
    assert isinstance(spec, DatasetSpec)
    assert spec.summary and spec.reference
    assert spec.defaults() == EXPECTED[name]
    assert all(o.help for o in spec.options.values())


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [("shapes", "resolution", 48), ("mnist", "split", "val"), ("mnist", "resolution", 16),
     ("stacked-mnist", "resolution", 64), ("image-folder", "channels", 2), ("shapes", "size", 0)],
)
def test_bad_option_values_rejected(name: str, key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"dataset.{key}"):
        get_host().datasets.get(name).with_options({key: value}, prefix="dataset")
