"""The relativistic losses against their papers' formulas, written out independently on fixed logits."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.plugins import get_host
from ganzoo.testing import check_loss

NAMES = ["ragan", "rahinge", "ralsgan", "rpgan"]

REAL = torch.tensor([1.5, -0.3, 0.8, 2.0, -1.2, 0.1])
FAKE = torch.tensor([-0.7, 0.4, -2.1, 0.9, -0.2, -1.0])


def loss(name: str):
    return get_host().losses.get(name).with_options({})


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def log_sigmoid(a: float) -> float:
    return math.log(1.0 / (1.0 + math.exp(-a)))


# Each formula by hand, in plain Python floats (no torch), from the papers' equations.
def ragan_d(r: list[float], f: list[float]) -> float:
    # -E_r[log sigma(C(x_r) - E_f C(x_f))] - E_f[log(1 - sigma(C(x_f) - E_r C(x_r)))]
    mr, mf = mean(r), mean(f)
    return -mean([log_sigmoid(x - mf) for x in r]) - mean([math.log(1 - math.exp(log_sigmoid(x - mr))) for x in f])


def ragan_g(r: list[float], f: list[float]) -> float:
    # -E_f[log sigma(C(x_f) - E_r C(x_r))] - E_r[log(1 - sigma(C(x_r) - E_f C(x_f)))]
    mr, mf = mean(r), mean(f)
    return -mean([log_sigmoid(x - mr) for x in f]) - mean([math.log(1 - math.exp(log_sigmoid(x - mf))) for x in r])


def rahinge_d(r: list[float], f: list[float]) -> float:
    mr, mf = mean(r), mean(f)
    return mean([max(0.0, 1 - (x - mf)) for x in r]) + mean([max(0.0, 1 + (x - mr)) for x in f])


def rahinge_g(r: list[float], f: list[float]) -> float:
    mr, mf = mean(r), mean(f)
    return mean([max(0.0, 1 - (x - mr)) for x in f]) + mean([max(0.0, 1 + (x - mf)) for x in r])


def ralsgan_d(r: list[float], f: list[float]) -> float:
    mr, mf = mean(r), mean(f)
    return mean([(x - mf - 1) ** 2 for x in r]) + mean([(x - mr + 1) ** 2 for x in f])


def ralsgan_g(r: list[float], f: list[float]) -> float:
    mr, mf = mean(r), mean(f)
    return mean([(x - mr - 1) ** 2 for x in f]) + mean([(x - mf + 1) ** 2 for x in r])


def rpgan_d(r: list[float], f: list[float]) -> float:
    # E[softplus(-(C(x_r) - C(x_f)))] = E[log(1 + exp(C(x_f) - C(x_r)))], the i-th real with the i-th fake
    return mean([math.log1p(math.exp(b - a)) for a, b in zip(r, f, strict=True)])


def rpgan_g(r: list[float], f: list[float]) -> float:
    return mean([math.log1p(math.exp(a - b)) for a, b in zip(r, f, strict=True)])


FORMULAS = {"ragan": (ragan_d, ragan_g), "rahinge": (rahinge_d, rahinge_g),
            "ralsgan": (ralsgan_d, ralsgan_g), "rpgan": (rpgan_d, rpgan_g)}


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_paper_and_real_logits(name: str) -> None:
    entry = get_host().losses.entry(name)
    assert entry.plugin == "ganzoo-losses"
    spec = loss(name)
    assert spec.needs_real_logits is True
    assert "arXiv:" in spec.reference
    assert {"train.lr_g", "train.lr_d", "train.betas"} <= set(spec.recommended)


@pytest.mark.parametrize("name", NAMES)
def test_values_match_the_paper(name: str) -> None:
    d_formula, g_formula = FORMULAS[name]
    r, f = REAL.tolist(), FAKE.tolist()
    spec = loss(name)
    assert float(spec.discriminator_loss(REAL, FAKE)) == pytest.approx(d_formula(r, f), rel=1e-5, abs=1e-6)
    assert float(spec.generator_loss(REAL, FAKE)) == pytest.approx(g_formula(r, f), rel=1e-5, abs=1e-6)
    # Swapped roles give a different value (the formulas are not symmetric in general).
    assert float(spec.discriminator_loss(FAKE, REAL)) == pytest.approx(d_formula(f, r), rel=1e-5, abs=1e-6)


def test_rpgan_is_paired_samplewise() -> None:
    spec = loss("rpgan")
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    # Permuting the pairs changes RpGAN (unlike the averaged losses): it is not a function of the means.
    assert float(spec.discriminator_loss(REAL, FAKE[perm])) != pytest.approx(float(spec.discriminator_loss(REAL, FAKE)))
    ra = loss("ragan")
    assert float(ra.discriminator_loss(REAL, FAKE[perm])) == pytest.approx(float(ra.discriminator_loss(REAL, FAKE)))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", [1.0, 60.0])
def test_gradients_finite_for_both_players(name: str, scale: float) -> None:
    spec = loss(name)
    for player in ("discriminator", "generator"):
        real = (REAL * scale).clone().requires_grad_(True)
        fake = (FAKE * scale).clone().requires_grad_(True)
        value = spec.discriminator_loss(real, fake) if player == "discriminator" else spec.generator_loss(real, fake)
        assert value.dim() == 0 and torch.isfinite(value)
        value.backward()
        for t in (real, fake):
            assert t.grad is not None and torch.isfinite(t.grad).all(), (player, scale)
        if scale == 1.0:  # at large scale a hinge may saturate; at ordinary logits every player learns
            assert fake.grad is not None and float(fake.grad.abs().sum()) > 0, player


def test_generator_loss_without_real_logits_is_an_error() -> None:
    with pytest.raises(ValueError, match="needs the real logits"):
        loss("ragan").generator_loss(None, FAKE)


@pytest.mark.parametrize("name", NAMES)
def test_conforms(name: str) -> None:
    check_loss(name)
