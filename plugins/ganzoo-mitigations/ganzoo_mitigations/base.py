"""Shared pieces of the built-in mitigations: default options, spectral normalisation, and what the
sampling-time candidate pickers (``jacobian-truncation``, ``ratio-rejection``) have in common."""

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


# --------------------------------------------------------------------------- sampling-time candidate pickers


def weights_key(module: nn.Module) -> tuple[tuple[int, int], ...]:
    """Changes whenever a weight of ``module`` does: an in-place update bumps a tensor's version, a new tensor has a
    new address (so a picker recalibrates after an EMA update or a loaded checkpoint)."""
    return tuple((p.data_ptr(), p._version) for p in module.parameters())


def is_stale(calibrated_for: Any, watched: nn.Module) -> bool:
    """Whether a picker must set its threshold again: ``watched``'s weights changed since ``calibrated_for`` (its
    :func:`weights_key` then), and it is not being traced, compiled or exported (which bake in the stored threshold)."""
    tracing = torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export()
    return not tracing and calibrated_for != weights_key(watched)


def seeded_latents(n: int, dim: int, distribution: str, g: torch.Generator) -> torch.Tensor:
    """``n`` latents of ``dim`` numbers from ``distribution`` (``normal`` or ``uniform``) drawn with ``g``: calibration
    inputs."""
    return torch.rand((n, dim), generator=g) * 2 - 1 if distribution == "uniform" else torch.randn((n, dim), generator=g)


def pick_candidates(x: torch.Tensor, accepted: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Per row of ``accepted`` ``[n, tries]``, the sample of the first accepted candidate, else of the candidate with
    the smallest ``fallback`` (``>= 0``); ``x`` holds the candidates' samples, ``[n * tries, ...]``, row-major. The
    argmin of the index (``< tries``) of an accepted candidate or ``tries + fallback`` (``>= tries``): ONNX-exportable."""
    n, tries = accepted.shape
    order = torch.arange(tries, device=accepted.device, dtype=fallback.dtype).expand(n, -1)
    return take_candidates(x, torch.where(accepted, order, tries + fallback).argmin(dim=1), tries)


def take_candidates(x: torch.Tensor, pick: torch.Tensor, tries: int) -> torch.Tensor:
    """Per row, the sample of candidate ``pick[row]`` (``< tries``); ``x`` holds the candidates' samples,
    ``[n * tries, ...]``, row-major (ONNX-exportable: a gather; no size is inferred, so ``n`` may be 0)."""
    n = pick.shape[0]
    flat = x.unflatten(0, (n, tries)).flatten(2)
    return flat.gather(1, pick.reshape(n, 1, 1).expand(n, 1, flat.shape[2])).reshape(n, *x.shape[1:])
