"""Turning a trained generator into a plain inference module for export."""

from __future__ import annotations

import copy
from typing import Any, cast

import torch
from torch import nn
from torch.nn.utils import parametrize


def strip_reparametrizations(module: nn.Module) -> int:
    """Bake spectral-norm / weight-norm (parametrizations and the older hook versions) into plain
    weights, in place, using the current (eval-mode) values. Returns how many were removed."""
    module.eval()
    removed = 0
    for m in list(module.modules()):
        if parametrize.is_parametrized(m):
            _own_class(m)
            for name in list(cast(nn.ModuleDict, m.parametrizations).keys()):
                parametrize.remove_parametrizations(m, name, leave_parametrized=True)
                removed += 1
        for hook in list(m._forward_pre_hooks.values()):
            kind = type(hook).__name__
            if kind == "SpectralNorm":
                torch.nn.utils.remove_spectral_norm(m, getattr(hook, "name", "weight"))
                removed += 1
            elif kind == "WeightNorm":
                torch.nn.utils.remove_weight_norm(m, getattr(hook, "name", "weight"))
                removed += 1
    return removed


def _own_class(module: nn.Module) -> None:
    """Give a parametrized module its own ``Parametrized*`` class. ``copy.deepcopy`` shares that class
    between original and copy, and removing a parametrization deletes its property from the class,
    which would break the original generator."""
    cls = type(module)
    body = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, body)


class ExportModule(nn.Module):
    """``z -> x`` (or ``(z, labels) -> x``) with a float32 output, around the generator to export.
    ``forward`` is defined by the two concrete subclasses (exporters need exact signatures)."""

    def __init__(self, generator: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.generator = generator
        self.conditional = conditional



class _Unconditional(ExportModule):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z).float()


class _Conditional(ExportModule):
    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.generator(z, labels).float()


def num_classes_of(generator: nn.Module) -> int | None:
    """The generator's ``num_classes`` when it is conditional, else None."""
    k = getattr(generator, "num_classes", None)
    return int(k) if isinstance(k, int) and not isinstance(k, bool) and k > 0 else None


def prepare_for_export(generator: nn.Module, *, architecture: str, info: Any, host: Any = None) -> ExportModule:
    """A deep copy of ``generator`` in eval mode, reparametrizations baked in, possibly replaced by a
    plugin's ``ganzoo_prepare_export`` hook, wrapped to the ONNX contract's inputs and output."""
    module = copy.deepcopy(generator).float().eval()
    strip_reparametrizations(module)
    if host is None:
        from ganzoo.plugins import get_host

        host = get_host()
    replacement = host.hook.ganzoo_prepare_export(architecture=architecture, generator=module, info=info)
    if replacement is not None:
        if not isinstance(replacement, nn.Module):
            from ganzoo.export.errors import ExportError

            raise ExportError(f"ganzoo_prepare_export for {architecture!r} returned {type(replacement).__name__}, not an nn.Module")
        module = replacement.float().eval()
        strip_reparametrizations(module)
    for p in module.parameters():
        p.requires_grad_(False)
    conditional = num_classes_of(generator) is not None
    wrapper = (_Conditional if conditional else _Unconditional)(module, conditional)
    return wrapper.eval()
