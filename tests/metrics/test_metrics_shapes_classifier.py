"""The domain classifier on the real ``shapes`` dataset (small and low resolution to stay quick)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganzoo import hookimpl
from ganzoo.metrics.classifier import get_classifier
from ganzoo.metrics.modes import mode_metrics
from ganzoo.plugins import PluginHost

shapes = pytest.importorskip("ganzoo_images.shapes")


class _ShapesOnly:
    @hookimpl
    def ganzoo_register_datasets(self, register):  # type: ignore[no-untyped-def]
        register(shapes.ShapesDataset())


@pytest.mark.slow
def test_shapes_classifier_finds_every_mode_of_real_data(tmp_path: Path) -> None:
    host = PluginHost(strict=True, disabled=set())
    host.add_plugin(_ShapesOnly(), "shapes-only")
    opts = {"resolution": 16, "size": 1200}
    clf = get_classifier("shapes", host=host, dataset_options=opts, cache_dir=tmp_path)
    assert clf.num_classes == shapes.NUM_MODES and clf.channels == 3 and clf.resolution == 16
    assert clf.accuracy >= 0.97
    fresh = host.datasets.get("shapes").with_options({**opts, "size": 600}).build(data_root=None, seed=4242)
    x, y = fresh.tensors
    assert (clf.predict(x) == y).float().mean() >= 0.95
    m = mode_metrics(x, fresh.info, classifier_getter=lambda name: clf)
    assert m["modes"] == shapes.NUM_MODES and m["reverse_kl"] < 0.05
    one = mode_metrics(x[y == 5], fresh.info, classifier=clf)
    assert one["modes"] <= 2 and one["reverse_kl"] > 0.8 * torch.log(torch.tensor(12.0)).item()
