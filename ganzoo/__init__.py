"""ganzoo: a plugin-based GAN experimentation toolkit.

Public names for plugin authors::

    from ganzoo import hookimpl, ArchitectureSpec, LossSpec, DatasetSpec, MitigationSpec
"""

from __future__ import annotations

import pluggy

from ganzoo._version import __version__

PROJECT_NAME = "ganzoo"
ENTRY_POINT_GROUP = "ganzoo"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for plugin hook implementations: ``@hookimpl def ganzoo_register_losses(register): ...``."""

from ganzoo.specs import (  # noqa: E402  (hookimpl must exist before specs import it)
    ArchitectureSpec,
    DataInfo,
    DatasetSpec,
    GanData,
    GanModels,
    LossSpec,
    MitigationSpec,
    Option,
)

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
