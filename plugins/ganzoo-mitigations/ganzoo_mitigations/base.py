"""Shared pieces of the built-in mitigations: default options, spectral-norm detection,
extensible discriminator heads, and the discriminator batch-size bookkeeping (PacGAN changes
the batch that batch-statistic heads see)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo import DataInfo, MitigationSpec
from ganzoo.errors import IncompatibleError
from ganzoo.specs import Discriminator

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
            for p in m.parametrizations["weight"]:  # type: ignore[union-attr]
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


# --------------------------------------------------------------------------- heads


class ExtendedHead(nn.Module):
    """``out(a_k(...a_1(h)))``: each augmenter appends statistics to the flat features ``h``
    (``[N, d] -> [N, d + extra]``); ``out`` is the final ``Linear(d_total, 1)``."""

    def __init__(self, augmenters: list[nn.Module], out: nn.Linear) -> None:
        super().__init__()
        self.augmenters = nn.ModuleList(augmenters)
        self.out = out

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for a in self.augmenters:
            h = a(h)
        return self.out(h)


def extend_head(
    discriminator: Discriminator, name: str, make: Callable[[int], tuple[nn.Module, int]]
) -> Discriminator:
    """Insert the augmenter ``make(d_in) -> (module, d_out)`` before the discriminator's final linear
    layer, replacing that layer with ``Linear(d_out, 1)``. Augmenters of earlier built-in mitigations
    are kept (they compose, in order); if the discriminator is already spectrally normalised the new
    layers are normalised the same way, so the result does not depend on the order of the two."""
    head = discriminator.head
    if isinstance(head, ExtendedHead):
        augmenters, d_in = list(head.augmenters), head.out.in_features
    elif isinstance(head, nn.Linear) and head.out_features == 1 and head.in_features == discriminator.feature_dim:
        augmenters, d_in = [], discriminator.feature_dim
    else:
        raise IncompatibleError(
            f"{name}: cannot extend the discriminator head ({type(head).__name__}), which is not the "
            f"default Linear(feature_dim, 1); another component replaced it. List {name} before that mitigation."
        )
    aug, d_out = make(d_in)
    out = nn.Linear(d_out, 1)
    ref = next(head.parameters(), None)  # not .weight: on a normalised layer that runs a power iteration
    if ref is not None:
        out.to(device=ref.device, dtype=ref.dtype)
        aug.to(device=ref.device, dtype=ref.dtype)
    iters = spectral_norm_iterations(discriminator)
    if iters is not None:
        apply_spectral_norm(aug, iters)
        apply_spectral_norm(out, iters)
    discriminator.head = ExtendedHead(augmenters + [aug], out)
    return discriminator


# --------------------------------------------------------------------------- batch bookkeeping

PACK_KEY = "ganzoo_mitigations.pack"
"""``DataInfo.extras`` key: how many raw samples one discriminator input packs (product of packs)."""
NEEDS_KEY = "ganzoo_mitigations.batch_needs"
"""``DataInfo.extras`` key: ``((mitigation, group, min_batch), ...)`` the discriminator batch must meet."""


def pack_of(info: DataInfo) -> int:
    return int(info.extras.get(PACK_KEY, 1))


def with_pack(info: DataInfo, pack: int) -> DataInfo:
    return info.replace(extras={**info.extras, PACK_KEY: pack_of(info) * int(pack)})


def with_need(info: DataInfo, name: str, group: int, min_batch: int) -> DataInfo:
    needs = tuple(info.extras.get(NEEDS_KEY, ())) + ((name, int(group), int(min_batch)),)
    return info.replace(extras={**info.extras, NEEDS_KEY: needs})


def check_batch(batch_size: int, pack: int, needs: tuple[tuple[str, int, int], ...]) -> None:
    """Raise :class:`IncompatibleError` when the discriminator batch ``batch_size / pack`` does not
    split into groups of ``min(group, batch)`` or is smaller than ``min_batch`` for some need."""
    if batch_size % pack:
        return  # PacGAN's own check reports this one
    n = batch_size // pack
    packed = f"batch size {batch_size} packed by {pack} gives discriminator batches of {n}" if pack > 1 else f"batch size {batch_size}"
    for name, group, min_batch in needs:
        if n < min_batch:
            raise IncompatibleError(
                f"{name}: {packed}; it needs at least {min_batch} samples per discriminator batch "
                f"(use --set run.batch_size={min_batch * pack} or larger)"
            )
        g = min(group, n)
        if n % g:
            step = pack * group
            lo, hi = (batch_size // step) * step, (batch_size // step + 1) * step
            sugg = " or ".join(str(b) for b in (lo, hi) if b > 0)
            raise IncompatibleError(
                f"{name}: {packed}, which is not divisible by the group size {group}; use a batch size "
                f"that is a multiple of {step} (e.g. {sugg}: --set run.batch_size={hi}) or set "
                f"mitigation.{name}.group_size to a divisor of {n}"
            )


BATCH_PARTICIPANTS = ("pacgan", "minibatch-stddev", "minibatch-discrimination")
"""Mitigations that change the discriminator batch or depend on it."""


class BatchAware(Mitigation):
    """A mitigation taking part in the batch bookkeeping. :meth:`check` remembers the batch size and
    the mitigation list; the last participant's :meth:`discriminator_info` validates the final
    discriminator batch (only then are all packs and needs known, whatever the order)."""

    _batch_size: int | None = None
    _names: tuple[str, ...] = ()

    def remember(self, batch_size: int, mitigations: Any) -> None:
        self._batch_size, self._names = int(batch_size), tuple(mitigations)

    def validate_if_last(self, info: DataInfo) -> None:
        if self._batch_size is None or self.name not in self._names:
            return
        later = self._names[self._names.index(self.name) + 1:]
        if not any(n in BATCH_PARTICIPANTS for n in later):
            check_batch(self._batch_size, pack_of(info), tuple(info.extras.get(NEEDS_KEY, ())))
