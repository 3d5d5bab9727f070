"""Entry point of the built-in ``ganzoo-losses`` plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganzoo import hookimpl
from ganzoo_losses.hinge import Hinge
from ganzoo_losses.lsgan import LeastSquares
from ganzoo_losses.nsgan import NonSaturating
from ganzoo_losses.relativistic import RaGAN, RaHinge, RaLSGAN, RpGAN
from ganzoo_losses.wgan import WGAN, WGANGP


@hookimpl
def ganzoo_register_losses(register: Callable[[Any], None]) -> None:
    register(NonSaturating())
    register(WGAN())
    register(WGANGP())
    register(Hinge())
    register(LeastSquares())
    register(RaGAN())
    register(RaHinge())
    register(RaLSGAN())
    register(RpGAN())
