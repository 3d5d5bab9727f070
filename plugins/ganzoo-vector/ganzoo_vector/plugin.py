"""Entry point of the built-in ``ganzoo-vector`` plugin."""

from ganzoo import hookimpl
from ganzoo_vector.mixtures import Grid25, Ring8
from ganzoo_vector.mlp import MLP


@hookimpl
def ganzoo_register_architectures(register):
    register(MLP())


@hookimpl
def ganzoo_register_datasets(register):
    register(Ring8())
    register(Grid25())
