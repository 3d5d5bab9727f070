"""Known values, gradient directions and metadata of the built-in losses (via the registry)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from ganzoo import DataInfo, DiscriminatorStep, LossSpec, StepContext
from ganzoo.config import TRAIN_OPTIONS
from ganzoo.errors import ConfigError
from ganzoo.plugins import get_host

NAMES = ["ns-gan", "wgan", "wgan-gp", "hinge", "lsgan"]


def loss(name: str, **options: Any) -> Any:
    return get_host().losses.get(name).with_options(options)


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_metadata(name: str) -> None:
    entry = get_host().losses.entry(name)
    assert entry.plugin == "ganzoo-losses"
    spec = entry.spec
    assert isinstance(spec, LossSpec)
    assert spec.summary and spec.reference
    assert spec.recommended
    for key, value in spec.recommended.items():
        section, opt = key.split(".")
        assert section == "train" and opt in {"lr_g", "lr_d", "betas", "n_critic"}
        assert TRAIN_OPTIONS[opt].validate(key, value) == value


def test_batch_norm_ok_only_false_for_gradient_penalty() -> None:
    assert {n: loss(n).batch_norm_ok for n in NAMES} == {
        "ns-gan": True, "wgan": True, "wgan-gp": False, "hinge": True, "lsgan": True
    }


def test_builtin_generator_losses_use_only_the_fake_logits() -> None:
    """None of the built-in losses is relativistic: the engine skips the real batch of the G step."""
    for name in NAMES:
        spec = loss(name)
        assert spec.needs_real_logits is False
        fake = torch.randn(6)
        ignored = spec.generator_loss(torch.randn(6), fake)
        assert torch.equal(ignored, spec.generator_loss(None, fake))


def test_recommended_settings() -> None:
    assert loss("wgan").recommended["train.n_critic"] == 5
    assert loss("wgan").recommended["train.lr_d"] == 5e-5
    gp = loss("wgan-gp").recommended
    assert gp == {"train.lr_g": 1e-4, "train.lr_d": 1e-4, "train.betas": [0.0, 0.9], "train.n_critic": 5}
    assert loss("lsgan").recommended["train.betas"] == [0.5, 0.999]


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="clip"):
        loss("wgan", clip=-1.0)
    with pytest.raises(ConfigError, match="gp_weight"):
        loss("wgan-gp", gp_weight="ten")
    with pytest.raises(ConfigError, match="unknown option"):
        loss("hinge", margin=2.0)
    assert loss("wgan").opts["clip"] == 0.01
    assert loss("wgan-gp").opts["gp_weight"] == 10.0


def test_nsgan_known_values() -> None:
    z = torch.zeros(6)
    ns = loss("ns-gan")
    assert ns.discriminator_loss(z, z).item() == pytest.approx(2 * math.log(2))
    assert ns.generator_loss(None, z).item() == pytest.approx(math.log(2))
    # a confident, correct discriminator has a loss close to 0
    assert ns.discriminator_loss(t(20.0, 30.0), t(-20.0, -30.0)).item() < 1e-8


def test_wgan_known_values() -> None:
    for name in ("wgan", "wgan-gp"):
        spec = loss(name)
        assert spec.discriminator_loss(t(1, 2, 3), t(0, 0, 3)).item() == pytest.approx(-1.0)
        assert spec.generator_loss(None, t(0, 0, 3)).item() == pytest.approx(-1.0)


def test_hinge_known_values() -> None:
    h = loss("hinge")
    # relu(1 - [2, .5, -1]) = [0, .5, 2]; relu(1 + [-2, 0, .5]) = [0, 1, 1.5]
    assert h.discriminator_loss(t(2, 0.5, -1), t(-2, 0, 0.5)).item() == pytest.approx(5 / 6 + 5 / 6)
    assert h.generator_loss(None, t(-2, 0, 0.5)).item() == pytest.approx(0.5)
    # beyond the margins the discriminator's loss and gradient are zero
    real, fake = t(1.5, 3.0).requires_grad_(), t(-1.5, -3.0).requires_grad_()
    value = h.discriminator_loss(real, fake)
    value.backward()
    assert value.item() == 0.0
    assert real.grad.abs().sum() == 0 and fake.grad.abs().sum() == 0


def test_lsgan_known_values_and_options() -> None:
    ls = loss("lsgan")
    # 0.5 * mean([0, 1]) + 0.5 * mean([0, 1])
    assert ls.discriminator_loss(t(1, 0), t(0, 1)).item() == pytest.approx(0.5)
    assert ls.generator_loss(None, t(0, 1)).item() == pytest.approx(0.25)
    assert ls.discriminator_loss(t(1, 1), t(0, 0)).item() == 0.0
    chi2 = loss("lsgan", a=-1, b=1, c=0)
    assert chi2.discriminator_loss(t(1, 1), t(-1, -1)).item() == 0.0
    assert chi2.generator_loss(None, t(0, 0)).item() == 0.0
    assert chi2.generator_loss(None, t(2, 2)).item() == pytest.approx(2.0)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_directions(name: str) -> None:
    """D pushes real logits up and fake logits down; G pushes fake logits up."""
    spec = loss(name)
    real = torch.full((4,), 0.5, requires_grad=True)
    fake = torch.full((4,), 0.5, requires_grad=True)
    spec.discriminator_loss(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake_g = torch.full((4,), 0.5, requires_grad=True)
    spec.generator_loss(None, fake_g).backward()
    assert (fake_g.grad < 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_losses_are_float32_scalars_from_bf16_logits(name: str) -> None:
    spec = loss(name)
    real = torch.randn(8).bfloat16()
    fake = torch.randn(8).bfloat16()
    for value in (spec.discriminator_loss(real, fake), spec.generator_loss(None, fake)):
        assert value.dim() == 0 and torch.isfinite(value)
        if name != "ns-gan":
            assert value.dtype == torch.float32


@pytest.mark.parametrize("name", ["ns-gan", "hinge", "lsgan"])
def test_no_penalty_and_no_step_hook_side_effects(name: str) -> None:
    spec = loss(name)
    net = torch.nn.Linear(3, 1)
    before = [p.detach().clone() for p in net.parameters()]
    info = DataInfo(name="v", kind="vector", shape=(3,))
    real, fake = torch.randn(2, 3), torch.randn(2, 3)
    step = DiscriminatorStep(0, 10, torch.device("cpu"), info, net, real, fake, net(real).squeeze(1), net(fake).squeeze(1))
    assert spec.penalty(step) is None
    spec.after_discriminator_step(net, StepContext(0, 10, torch.device("cpu"), info))
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
