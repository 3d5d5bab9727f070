"""ganzoo: a plugin-based GAN experimentation toolkit.

Everything a plugin author needs is importable from here::

    from ganzoo import hookimpl, ArchitectureSpec, LossSpec, DatasetSpec, MitigationSpec, MetricSpec
    from ganzoo import DataInfo, GanData, Discriminator, Option, BatchNeeds, HeadFeature
    from ganzoo import StepContext, SetupContext, BatchContext, DiscriminatorStep, GeneratorStep, MetricContext

The contracts live in :mod:`ganzoo.specs`, which imports PyTorch; they are
loaded on first access (PEP 562) so that torch-free parts such as :mod:`ganzoo.runtime` (ONNX inference)
and :mod:`ganzoo.errors` can be imported without PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

from ganzoo._version import __version__

PROJECT_NAME = "ganzoo"
ENTRY_POINT_GROUP = "ganzoo"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for plugin hook implementations: ``@hookimpl def ganzoo_register_losses(register): ...``."""

_LAZY: dict[str, str] = {
    **{name: "ganzoo.specs" for name in (
        "ArchitectureSpec", "Batch", "BatchContext", "BatchNeeds", "Component", "DataInfo", "DatasetSpec",
        "Discriminator", "DiscriminatorStep", "GanData", "GanModels", "GeneratorStep", "HeadFeature", "LossSpec",
        "MetricContext", "MetricSpec", "MetricValue", "MitigationSpec", "Option", "SetupContext", "StepContext",
    )},
}

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo.specs import (
        ArchitectureSpec,
        Batch,
        BatchContext,
        BatchNeeds,
        Component,
        DataInfo,
        DatasetSpec,
        Discriminator,
        DiscriminatorStep,
        GanData,
        GanModels,
        GeneratorStep,
        HeadFeature,
        LossSpec,
        MetricContext,
        MetricSpec,
        MetricValue,
        MitigationSpec,
        Option,
        SetupContext,
        StepContext,
    )


def __getattr__(name: str) -> Any:
    """Load the contracts (and with them PyTorch) on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__", "hookimpl", "PROJECT_NAME", "ENTRY_POINT_GROUP",
    "ArchitectureSpec", "Batch", "BatchContext", "BatchNeeds", "Component", "DataInfo", "DatasetSpec", "Discriminator",
    "DiscriminatorStep", "GanData", "GanModels", "GeneratorStep", "HeadFeature", "LossSpec", "MetricContext",
    "MetricSpec", "MetricValue", "MitigationSpec", "Option", "SetupContext", "StepContext",
]
