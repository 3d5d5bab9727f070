"""Load one plugin module into a fresh, strict host: misspelled hooks and registration errors fail."""

from __future__ import annotations

import importlib
from importlib import metadata
from types import ModuleType
from typing import Any

from ganzoo import ENTRY_POINT_GROUP
from ganzoo.errors import GanzooError
from ganzoo.plugins import PluginHost
from ganzoo.testing.report import ConformanceError


def check_plugin(plugin: ModuleType | str | Any, *, entry_point: str | None = None) -> dict[str, list[str]]:
    """Register ``plugin`` (a module, an import path or a plugin object) alone in a strict host.

    With ``entry_point``, also check that an installed distribution declares it in the ``ganzoo``
    group and that it names this module. Returns ``{kind: [component names]}``."""
    module = importlib.import_module(plugin) if isinstance(plugin, str) else plugin
    label = getattr(module, "__name__", type(module).__name__)
    if entry_point is not None:
        eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == entry_point]
        if not eps:
            raise ConformanceError(
                f"no installed distribution declares the entry point {entry_point!r} in the {ENTRY_POINT_GROUP!r} "
                f"group; add [project.entry-points.ganzoo] {entry_point} = \"{label}\" to pyproject.toml and reinstall"
            )
        if eps[0].value != label:
            raise ConformanceError(f"entry point {entry_point!r} names module {eps[0].value!r}, not {label!r}")
    host = PluginHost(strict=True, disabled=set())
    try:
        info = host.add_plugin(module, entry_point or label)
    except GanzooError as exc:
        raise ConformanceError(f"plugin {label!r} does not load: {exc}") from None
    if not info.components:
        raise ConformanceError(f"plugin {label!r} registers no component (implement a ganzoo_register_* hook)")
    return {kind: list(names) for kind, names in info.components.items()}
