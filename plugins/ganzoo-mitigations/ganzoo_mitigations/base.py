"""Shared pieces of the built-in mitigations: default options and spectral normalisation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, cast

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo import MitigationSpec

SN_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.modules.conv._ConvNd)
"""Layers spectral normalisation applies to: linear, convolution and transposed convolution."""


class Mitigation(MitigationSpec):
    """Base of the built-in mitigations: an unconfigured instance reads its defaults from ``opts``."""

    opts: Mapping[str, Any] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.opts = MappingProxyType({k: o.default for k, o in cls.options.items()})


# --------------------------------------------------------------------------- spectral norm


def spectral_norm_iterations(module: nn.Module) -> int | None:
    """``n_power_iterations`` of the first spectrally normalised layer in ``module``, else None."""
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrizations = cast(nn.ModuleDict, m.parametrizations)
            for p in cast("Iterable[Any]", parametrizations["weight"]):  # a ParametrizationList
                if type(p).__name__ == "_SpectralNorm":
                    return int(p.n_power_iterations)
    return None


def apply_spectral_norm(module: nn.Module, n_power_iterations: int) -> int:
    """Spectrally normalise every linear / (transposed) convolution layer of ``module`` that is not
    normalised yet; returns how many layers were wrapped."""
    targets = [
        m for m in module.modules()
        if isinstance(m, SN_LAYERS) and not parametrize.is_parametrized(m, "weight")
        and isinstance(getattr(m, "weight", None), torch.Tensor)
        and not isinstance(m.weight, nn.parameter.UninitializedParameter)
    ]
    for m in targets:
        spectral_norm(m, n_power_iterations=n_power_iterations)
    return len(targets)
