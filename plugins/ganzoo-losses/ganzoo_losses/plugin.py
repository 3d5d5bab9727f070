"""Entry point of the built-in ``ganzoo-losses`` plugin."""

from ganzoo import hookimpl
from ganzoo_losses.nsgan import NonSaturating


@hookimpl
def ganzoo_register_losses(register):
    register(NonSaturating())
