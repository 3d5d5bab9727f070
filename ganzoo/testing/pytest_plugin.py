"""pytest plugin (entry point ``pytest11``) exposing ganzoo's conformance harness to plugin authors.

Loaded automatically wherever ganzoo is installed. It imports nothing heavy until a fixture is used.

Fixtures:
  ``ganzoo_check``   :func:`ganzoo.testing.check_component` (``ganzoo_check("loss", "my-loss")``).
  ``ganzoo_host``    a fresh :class:`ganzoo.plugins.PluginHost` loaded from the installed entry points.
  ``ganzoo_offline`` disables the network for the test (:func:`ganzoo.testing.offline`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def ganzoo_check() -> Any:
    from ganzoo.testing import check_component

    return check_component


@pytest.fixture
def ganzoo_host() -> Any:
    from ganzoo.plugins import PluginHost

    return PluginHost().load_entry_points()


@pytest.fixture
def ganzoo_offline() -> Iterator[None]:
    from ganzoo.testing import offline

    with offline():
        yield
