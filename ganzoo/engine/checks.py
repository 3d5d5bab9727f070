"""Checks of what plugin components return to the engine, with errors that name the plugin."""

from __future__ import annotations

from typing import Any

import torch

from ganzoo.errors import InvalidComponentError

__all__ = ["check_scalar", "component_origin"]


def component_origin(host: Any, kind: str, name: str) -> str:
    """``loss 'x' (plugin 'p')``: a component and the plugin that registered it."""
    plugin = "unknown plugin"
    registry = getattr(host, "registries", {}).get(kind)
    if registry is not None:
        try:
            plugin = f"plugin {registry.entry(name).plugin!r}"
        except Exception:  # noqa: BLE001 - the name only serves the message
            pass
    return f"{kind} {name!r} ({plugin})"


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return "None" if value is None else f"a {type(value).__name__}"


def check_scalar(value: Any, host: Any, component: Any, method: str) -> torch.Tensor:
    """``value`` if it is a floating-point scalar tensor, else an :class:`InvalidComponentError` naming
    the component, its plugin and ``method``. Costs no device synchronisation."""
    if isinstance(value, torch.Tensor) and value.dim() == 0 and value.is_floating_point():
        return value
    raise InvalidComponentError(
        f"{component_origin(host, component.kind, component.name)}: {method}() returned {_describe(value)}; "
        f"expected a scalar floating-point tensor"
    )
