"""The example plugin's own tests: its components satisfy ganzoo's contracts."""

import math

import pytest
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


def test_relativistic_loss_is_exactly_rsgan():
    loss = get_host().losses.get("relativistic").with_options({})
    assert loss.needs_real_logits is True  # the engine gives generator_loss the real logits
    real = torch.tensor([1.0, 0.0, -2.0])
    fake = torch.tensor([0.0, 0.0, 1.0])
    # paired samples: -log sigmoid(C(x_r) - C(x_f)) for D and -log sigmoid(C(x_f) - C(x_r)) for G
    d = [math.log1p(math.exp(-(r - f))) for r, f in zip(real.tolist(), fake.tolist())]
    g = [math.log1p(math.exp(-(f - r))) for r, f in zip(real.tolist(), fake.tolist())]
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(sum(d) / 3)
    assert loss.generator_loss(real, fake).item() == pytest.approx(sum(g) / 3)
    # G's loss depends on the real logits (it is not RaSGAN's or a fake-only proxy)
    assert loss.generator_loss(real + 1.0, fake).item() > loss.generator_loss(real, fake).item()
    with pytest.raises(ValueError, match="real logits"):
        loss.generator_loss(None, fake)


def test_relativistic_generator_gradient_raises_the_fake_logits():
    loss = get_host().losses.get("relativistic").with_options({})
    fake = torch.zeros(4, requires_grad=True)
    loss.generator_loss(torch.zeros(4), fake).backward()
    torch.testing.assert_close(fake.grad, torch.full((4,), -0.5 / 4))  # d/df softplus(-(f - r)) = -sigmoid(r - f)


def test_relativistic_loss_conforms_and_trains():
    from ganzoo.testing import check_loss

    assert check_loss("relativistic").ok


def test_spiral_dataset_shape_and_range():
    data = get_host().datasets.get("spiral").with_options({"size": 500}).build(data_root=None, seed=0)
    x, _ = data.tensors
    assert x.shape == (500, 2)
    assert float(x.abs().max()) < 1.2
