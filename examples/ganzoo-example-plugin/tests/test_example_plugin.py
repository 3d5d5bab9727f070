"""The example plugin's own tests: its components satisfy ganzoo's contracts."""

import torch

from ganzoo.plugins import get_host


def test_components_registered_by_example_plugin():
    host = get_host()
    assert host.losses.entry("relativistic").plugin == "example"
    assert host.datasets.entry("spiral").plugin == "example"


def test_relativistic_loss_prefers_real_above_fake():
    loss = get_host().losses.get("relativistic").with_options({})
    good = loss.discriminator_loss(torch.full((8,), 3.0), torch.full((8,), -3.0))
    bad = loss.discriminator_loss(torch.full((8,), -3.0), torch.full((8,), 3.0))
    assert good < 0.01 < 5.0 < bad


def test_spiral_dataset_shape_and_range():
    data = get_host().datasets.get("spiral").with_options({"size": 500}).build(data_root=None, seed=0)
    x, _ = data.tensors
    assert x.shape == (500, 2)
    assert float(x.abs().max()) < 1.2
