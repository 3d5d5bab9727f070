"""The 2D mixture protocol (VEEGAN / PacGAN / GDPP)."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.metrics.modes2d import PROTOCOL_2D_SAMPLES, kl_to_uniform, mode_metrics_2d
from ganzoo_vector.mixtures import grid_centres, ring_centres, sample_mixture

MIXTURES = {"ring8": (ring_centres(8, 1.0), 0.01), "grid25": (grid_centres(), 0.05)}


@pytest.mark.parametrize("name", sorted(MIXTURES))
@pytest.mark.parametrize("seed", [0, 1])
def test_true_mixture_samples_score_at_the_ceiling(name: str, seed: int) -> None:
    centres, std = MIXTURES[name]
    x, _ = sample_mixture(centres, std, PROTOCOL_2D_SAMPLES, torch.Generator().manual_seed(seed))
    m = mode_metrics_2d(x, centres, std)
    assert m["modes"] == len(centres) == m["num_modes"]
    assert m["num_samples"] == PROTOCOL_2D_SAMPLES
    # P(|N(0, I_2)| <= 3) = 1 - exp(-4.5) = 98.9%: the published ceiling
    assert 0.97 <= m["high_quality"] <= 1.0
    assert abs(m["high_quality"] - (1 - math.exp(-4.5))) < 0.01
    assert 0.0 <= m["reverse_kl"] < 0.05
    assert "kl" not in m
    assert sum(m["histogram"]) == m["num_high_quality"] == round(m["high_quality"] * PROTOCOL_2D_SAMPLES)


@pytest.mark.parametrize("name", sorted(MIXTURES))
def test_all_samples_at_one_centre_is_one_mode_with_maximal_kl(name: str) -> None:
    centres, std = MIXTURES[name]
    x = torch.tensor([centres[3]] * 100) + 0.5 * std * torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    m = mode_metrics_2d(x, centres, std)
    assert m["modes"] == 1
    assert m["high_quality"] == 1.0
    assert m["histogram"][3] == 100
    assert abs(m["reverse_kl"] - math.log(len(centres))) < 1e-6


def test_samples_far_away_are_not_high_quality() -> None:
    centres, std = MIXTURES["grid25"]
    x = torch.full((50, 2), 100.0)
    m = mode_metrics_2d(x, centres, std)
    assert m["high_quality"] == 0.0 and m["num_high_quality"] == 0
    assert m["modes"] == 0
    assert m["histogram"] == [0] * 25
    assert m["reverse_kl"] == math.inf  # documented zero-HQ convention: not the log(25) of one covered mode


def test_samples_between_centres_are_not_high_quality() -> None:
    centres, std = MIXTURES["ring8"]
    mid = torch.tensor(centres[:2]).mean(0, keepdim=True)  # halfway between two neighbours
    m = mode_metrics_2d(mid.repeat(10, 1), centres, std)
    assert m["high_quality"] == 0.0 and m["modes"] == 0


def test_threshold_is_three_std_of_the_nearest_centre() -> None:
    centres, std = [(0.0, 0.0), (10.0, 0.0)], 0.1
    x = torch.tensor([[0.29, 0.0], [0.0, -0.31], [10.0, 0.299], [5.0, 0.0]])
    m = mode_metrics_2d(x, centres, std)
    assert m["num_high_quality"] == 2
    assert m["histogram"] == [1, 1]
    assert m["modes"] == 2
    assert m["high_quality"] == 0.5
    assert m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_kl_of_two_equal_modes_out_of_four_is_log2() -> None:
    centres = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    x = torch.tensor([[0.0, 0.0]] * 7 + [[1.0, 0.0]] * 7)
    m = mode_metrics_2d(x, centres, 0.01)
    assert m["modes"] == 2
    assert m["reverse_kl"] == pytest.approx(math.log(2), abs=1e-9)


def test_non_finite_samples_are_never_high_quality() -> None:
    centres, std = MIXTURES["ring8"]
    x = torch.tensor([[float("nan"), 0.0], [float("inf"), 1.0], list(centres[0])])
    m = mode_metrics_2d(x, centres, std)
    assert m["num_high_quality"] == 1 and m["modes"] == 1 and m["num_samples"] == 3


def test_accepts_tensor_centres_and_float64_samples() -> None:
    centres, std = MIXTURES["ring8"]
    x, _ = sample_mixture(centres, std, 200, torch.Generator().manual_seed(3))
    a = mode_metrics_2d(x, centres, std)
    b = mode_metrics_2d(x.double(), torch.tensor(centres), std)
    assert a == b


@pytest.mark.parametrize(
    "x, centres, std",
    [
        (torch.zeros(5, 3), [(0.0, 0.0)], 0.1),
        (torch.zeros(5), [(0.0, 0.0)], 0.1),
        (torch.zeros(0, 2), [(0.0, 0.0)], 0.1),
        (torch.zeros(5, 2), [(0.0, 0.0)], 0.0),
    ],
)
def test_bad_inputs_raise(x: torch.Tensor, centres: list, std: float) -> None:
    with pytest.raises(ValueError):
        mode_metrics_2d(x, centres, std)


def test_kl_to_uniform() -> None:
    assert kl_to_uniform(torch.tensor([5, 5, 5, 5])) == pytest.approx(0.0, abs=1e-12)
    assert kl_to_uniform(torch.tensor([0, 9, 0])) == pytest.approx(math.log(3), abs=1e-12)
    assert kl_to_uniform(torch.tensor([0, 0, 0])) == pytest.approx(math.log(3), abs=1e-12)
    expected = sum(p * math.log(p * 3) for p in (0.5, 0.25, 0.25))
    assert kl_to_uniform(torch.tensor([2, 1, 1])) == pytest.approx(expected, abs=1e-12)
