"""``ganzoo new-plugin``: render a complete, installable plugin distribution from templates.

Templates live in ``ganzoo/scaffold/templates/`` (package data): ``common/`` for every kind and one
folder per kind with its component module, README usage and kind-specific tests.
"""

from __future__ import annotations

from ganzoo.scaffold.names import KINDS, PluginNames, plugin_names
from ganzoo.scaffold.render import create_plugin, render_files

__all__ = ["KINDS", "PluginNames", "create_plugin", "plugin_names", "render_files"]
