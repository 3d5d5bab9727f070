"""The hooks a ganzoo plugin may implement (with ``@ganzoo.hookimpl``).

Registration hooks receive a ``register`` callback: call it once per component. Lifecycle hooks
are fired by the training engine; they must not change the run's state. Every hook is documented
in ``docs/plugins.md`` with the same argument list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from ganzoo import PROJECT_NAME

if TYPE_CHECKING:  # the contracts import torch; hook specifications must not
    from torch import nn

    from ganzoo.specs import ArchitectureSpec, DataInfo, DatasetSpec, LossSpec, MetricSpec, MitigationSpec

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def ganzoo_register_architectures(register: Callable[[ArchitectureSpec], None]) -> None:
    """Register architectures: call ``register(spec)`` with an :class:`~ganzoo.ArchitectureSpec`."""


@hookspec
def ganzoo_register_losses(register: Callable[[LossSpec], None]) -> None:
    """Register losses: call ``register(spec)`` with a :class:`~ganzoo.LossSpec`."""


@hookspec
def ganzoo_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets: call ``register(spec)`` with a :class:`~ganzoo.DatasetSpec`."""


@hookspec
def ganzoo_register_mitigations(register: Callable[[MitigationSpec], None]) -> None:
    """Register mode-collapse mitigations: call ``register(spec)`` with a :class:`~ganzoo.MitigationSpec`."""


@hookspec
def ganzoo_register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Register evaluation metrics: call ``register(spec)`` with a :class:`~ganzoo.MetricSpec`."""


@hookspec
def ganzoo_train_start(run_dir: Path, config: Mapping[str, Any], step: int) -> None:
    """A run starts (or resumes) at ``step``; ``config`` is the fully resolved configuration."""


@hookspec
def ganzoo_log(run_dir: Path, step: int, metrics: Mapping[str, float]) -> None:
    """A logging interval ended; ``metrics`` is the row written to ``metrics.jsonl``."""


@hookspec
def ganzoo_checkpoint_saved(run_dir: Path, step: int, path: Path) -> None:
    """A complete checkpoint was written atomically to ``path``."""


@hookspec
def ganzoo_train_end(run_dir: Path, step: int, status: str) -> None:
    """A run ended at ``step``; ``status`` is ``"completed"``, ``"interrupted"`` or ``"failed"``."""


@hookspec(firstresult=True)
def ganzoo_prepare_export(architecture: str, generator: nn.Module, info: DataInfo) -> nn.Module | None:
    """Return an ``nn.Module`` to export in place of ``generator`` (same inputs and outputs),
    or None to let ganzoo export the generator as it is. The first non-None result wins."""
