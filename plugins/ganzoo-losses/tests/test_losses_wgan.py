"""WGAN weight clipping and the WGAN-GP gradient penalty."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from ganzoo import DataInfo, DiscriminatorStep, StepContext
from ganzoo.plugins import get_host

INFO = DataInfo(name="t", kind="image", shape=(3, 4, 4))


def loss(name: str, **options: Any) -> Any:
    return get_host().losses.get(name).with_options(options)


def d_step(critic: Any, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None) -> DiscriminatorStep:
    """The context the engine gives ``penalty``: D as it calls it and the prepared batches (the logits
    are not used by the penalty, so placeholders keep the critic's calls countable)."""
    n = real.shape[0]
    return DiscriminatorStep(0, 10, torch.device("cpu"), INFO, critic, real, fake, torch.zeros(n), torch.zeros(n),
                             real_labels=labels, fake_labels=labels)


def context() -> StepContext:
    return StepContext(0, 10, torch.device("cpu"), INFO)


class LinearCritic(nn.Module):
    """D(x) = <w, x.flatten()>: its input gradient is w everywhere."""

    def __init__(self, shape: tuple[int, ...], norm: float, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(int(torch.tensor(shape).prod()), generator=g)
        self.w = nn.Parameter(w / w.norm() * norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


def batches(n: int = 8, shape: tuple[int, ...] = (3, 4, 4)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, *shape, generator=g), torch.randn(n, *shape, generator=g)


def small_critic(channels: int = 3) -> nn.Module:
    """A tiny dcgan critic without BatchNorm, as the engine builds it for wgan-gp."""
    spec = get_host().architectures.get("dcgan").with_options({"width": 4})
    info = DataInfo(name="t", kind="image", shape=(channels, 16, 16))
    return spec.build_discriminator(info, batch_norm=loss("wgan-gp").batch_norm_ok)


# ----------------------------------------------------------------------------- wgan


def test_clipping_clamps_every_parameter() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Linear(16, 1))
    for p in net.parameters():
        nn.init.normal_(p, 0.0, 1.0)
    loss("wgan", clip=0.05).after_discriminator_step(net, context())
    values = torch.cat([p.detach().flatten() for p in net.parameters()])
    assert values.abs().max().item() == pytest.approx(0.05)
    assert (values.abs() <= 0.05).all()
    assert ((values == 0.05).sum() > 0) and ((values == -0.05).sum() > 0)
    assert not any(p.requires_grad is False for p in net.parameters())


def test_clipping_keeps_small_weights_and_zero_disables_it() -> None:
    net = nn.Linear(4, 3)
    with torch.no_grad():
        net.weight.copy_(torch.linspace(-0.005, 0.005, 12).reshape(3, 4))
        net.bias.fill_(3.0)
    before = net.weight.detach().clone()
    loss("wgan").after_discriminator_step(net, context())
    assert torch.equal(net.weight, before)
    assert torch.all(net.bias == 0.01)
    net.bias.data.fill_(3.0)
    loss("wgan", clip=0.0).after_discriminator_step(net, context())
    assert torch.all(net.bias == 3.0)


def test_wgan_has_no_penalty() -> None:
    real, fake = batches()
    assert loss("wgan").penalty(d_step(LinearCritic((3, 4, 4), 3.0), real, fake)) is None


# ----------------------------------------------------------------------------- wgan-gp


def test_penalty_is_zero_for_a_unit_gradient_critic() -> None:
    real, fake = batches()
    value = loss("wgan-gp").penalty(d_step(LinearCritic((3, 4, 4), 1.0), real, fake))
    assert value.dim() == 0
    assert value.item() == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("k, weight", [(3.0, 10.0), (0.5, 10.0), (2.0, 2.5), (0.0, 1.0)])
def test_penalty_value_for_gradient_norm_k(k: float, weight: float) -> None:
    real, fake = batches()
    value = loss("wgan-gp", gp_weight=weight).penalty(d_step(LinearCritic((3, 4, 4), k), real, fake))
    assert torch.isfinite(value)
    assert value.item() == pytest.approx(weight * (k - 1) ** 2, rel=1e-5, abs=1e-6)


def test_penalty_gradient_matches_the_analytic_one() -> None:
    """For D(x) = <w, x> the penalty is l * (||w|| - 1)^2, whose gradient is 2 l (||w|| - 1) w / ||w||."""
    critic = LinearCritic((3, 4, 4), 3.0)
    real, fake = batches()
    loss("wgan-gp").penalty(d_step(critic, real, fake)).backward()
    w = critic.w.detach()
    torch.testing.assert_close(critic.w.grad, 2 * 10.0 * (3.0 - 1.0) * w / w.norm(), rtol=1e-4, atol=1e-6)


def test_penalty_zero_weight_is_none() -> None:
    real, fake = batches()
    assert loss("wgan-gp", gp_weight=0.0).penalty(d_step(LinearCritic((3, 4, 4), 3.0), real, fake)) is None


def test_interpolates_use_one_uniform_alpha_per_sample() -> None:
    seen: list[torch.Tensor] = []
    critic = LinearCritic((3, 4, 4), 1.0)

    def recording(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach().clone())
        return critic(x)

    real = torch.ones(16, 3, 4, 4)
    fake = torch.zeros(16, 3, 4, 4)
    torch.manual_seed(0)
    loss("wgan-gp").penalty(d_step(recording, real, fake))
    (x_hat,) = seen
    alpha = x_hat.flatten(1)
    assert torch.allclose(alpha, alpha[:, :1].expand_as(alpha))  # constant within a sample
    a = alpha[:, 0]
    assert (a >= 0).all() and (a <= 1).all()
    assert a.unique().numel() == 16  # different across samples


def test_penalty_differentiable_through_a_dcgan_critic() -> None:
    torch.manual_seed(0)
    critic = small_critic()
    real, fake = batches(4, (3, 16, 16))
    fake.requires_grad_(True)  # as if still attached to a generator: the penalty must detach it
    value = loss("wgan-gp").penalty(d_step(critic, real, fake))
    assert torch.isfinite(value) and value.item() > 0
    value.backward()
    # every weight gets a gradient (biases may not: the input gradient of D does not depend on the
    # head's bias, and only piecewise on the others)
    weights = [p for n, p in critic.named_parameters() if n.endswith("weight")]
    assert weights and all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights)
    assert all(torch.isfinite(p.grad).all() for p in critic.parameters() if p.grad is not None)
    assert fake.grad is None


def test_penalty_under_bf16_autocast_matches_fp32() -> None:
    critic = small_critic()
    real, fake = batches(4, (3, 16, 16))
    gp = loss("wgan-gp")
    torch.manual_seed(3)
    ref = gp.penalty(d_step(critic, real, fake))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.manual_seed(3)
        low = gp.penalty(d_step(critic, real.bfloat16(), fake.bfloat16()))
    assert low.dtype == torch.float32
    assert torch.isfinite(low)
    # the inputs were rounded to bf16 (~3 significant digits); the penalty itself runs in fp32
    assert low.item() == pytest.approx(ref.item(), rel=2e-2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.manual_seed(3)
        same = gp.penalty(d_step(critic, real, fake))
    assert same.item() == pytest.approx(ref.item(), rel=1e-6)


def test_penalty_batch_sizes_and_shapes() -> None:
    critic = LinearCritic((3, 4, 4), 2.0)
    real, fake = batches(8)
    assert loss("wgan-gp").penalty(d_step(critic, real, fake[:5])).item() == pytest.approx(10.0, rel=1e-5)
    with pytest.raises(ValueError, match="shape"):
        loss("wgan-gp").penalty(d_step(critic, real, torch.randn(8, 3, 4, 5)))


class ConditionalCritic(nn.Module):
    """D(x, y) = <w_y, x.flatten()>: a class-conditional critic whose input gradient is w_y."""

    def __init__(self, shape: tuple[int, ...], norms: list[float]) -> None:
        super().__init__()
        dim = int(torch.tensor(shape).prod())
        w = torch.randn(len(norms), dim, generator=torch.Generator().manual_seed(0))
        self.w = nn.Parameter(w / w.norm(dim=1, keepdim=True) * torch.tensor(norms)[:, None])
        self.calls: list[torch.Tensor | None] = []

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.calls.append(labels)
        assert labels is not None, "a conditional critic needs labels"
        return (x.flatten(1) * self.w[labels]).sum(1)


def test_penalty_judges_interpolates_with_the_real_labels_of_a_conditional_critic() -> None:
    critic = ConditionalCritic((3, 4, 4), [1.0, 3.0])
    real, fake = batches(8)
    labels = torch.tensor([0, 1] * 4)
    value = loss("wgan-gp").penalty(d_step(critic, real, fake, labels))
    assert len(critic.calls) == 1 and torch.equal(critic.calls[0], labels)
    # half the samples see a unit-gradient critic (no penalty), half one of norm 3: 10 * mean([0, 4])
    assert value.item() == pytest.approx(10.0 * 2.0, rel=1e-5)
