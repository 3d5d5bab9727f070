"""ganzoo: a plugin-based GAN experimentation toolkit.

Public names for plugin authors::

    from ganzoo import hookimpl, ArchitectureSpec, LossSpec, DatasetSpec, MitigationSpec

The component contracts (``ArchitectureSpec``, ``DataInfo``...) live in :mod:`ganzoo.specs`, which
imports PyTorch; they are loaded on first access (PEP 562) so that torch-free parts such as
:mod:`ganzoo.runtime` (ONNX inference) and :mod:`ganzoo.errors` can be imported without PyTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from ganzoo._version import __version__

PROJECT_NAME = "ganzoo"
ENTRY_POINT_GROUP = "ganzoo"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for plugin hook implementations: ``@hookimpl def ganzoo_register_losses(register): ...``."""

_SPEC_NAMES = frozenset(
    {"ArchitectureSpec", "DataInfo", "DatasetSpec", "GanData", "GanModels", "LossSpec", "MitigationSpec", "Option"}
)

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo.specs import (
        ArchitectureSpec,
        DataInfo,
        DatasetSpec,
        GanData,
        GanModels,
        LossSpec,
        MitigationSpec,
        Option,
    )


def __getattr__(name: str) -> Any:
    """Load the component contracts (and with them PyTorch) on first use."""
    if name in _SPEC_NAMES:
        from ganzoo import specs

        value = getattr(specs, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SPEC_NAMES)


__all__ = [
    "__version__",
    "hookimpl",
    "ArchitectureSpec",
    "DataInfo",
    "DatasetSpec",
    "GanData",
    "GanModels",
    "LossSpec",
    "MitigationSpec",
    "Option",
]
