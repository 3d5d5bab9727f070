"""Entry point of the built-in ganzoo-resnet plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganzoo import hookimpl
from ganzoo_resnet.spec import ResNet


@hookimpl
def ganzoo_register_architectures(register: Callable[[Any], None]) -> None:
    register(ResNet())
