"""Tests of the built-in ``mlp`` architecture, through the installed plugin registry."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from ganzoo import DataInfo
from ganzoo.errors import ConfigError
from ganzoo.plugins import get_host

VECTOR = DataInfo(name="v", kind="vector", shape=(2,))


def arch(**options: Any) -> Any:
    return get_host().architectures.get("mlp").with_options({"latent_dim": 256, "hidden": 128, **options})


def linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def test_shapes_match_the_2d_protocol_networks() -> None:
    a = arch(activation="tanh")
    g, d = a.build_generator(VECTOR), a.build_discriminator(VECTOR, batch_norm=False)
    assert [(m.in_features, m.out_features) for m in linears(g)] == [(256, 128), (128, 128), (128, 2)]
    assert [(m.in_features, m.out_features) for m in linears(d)] == [(2, 128), (128, 128), (128, 1)]
    assert g(torch.randn(5, 256)).shape == (5, 2) and d(torch.randn(5, 2)).shape == (5,)


def test_xavier_init_gives_glorot_bounds_and_zero_biases_in_g_and_d() -> None:
    torch.manual_seed(0)
    a = arch(init="xavier")
    for layer in linears(a.build_generator(VECTOR)) + linears(a.build_discriminator(VECTOR, batch_norm=False)):
        bound = math.sqrt(6 / (layer.in_features + layer.out_features))
        w = layer.weight.detach()
        assert torch.count_nonzero(layer.bias) == 0
        assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound  # uniform(-bound, bound), filled out


def test_default_init_is_pytorchs() -> None:
    layer = linears(arch().build_generator(VECTOR))[0]
    assert layer.weight.abs().max() <= 1 / math.sqrt(256) and torch.count_nonzero(layer.bias) > 0


def test_unknown_init_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="xavier"):
        arch(init="he")
