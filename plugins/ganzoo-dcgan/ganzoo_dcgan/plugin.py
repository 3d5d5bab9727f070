"""Entry point of the built-in ganzoo-dcgan plugin."""

from ganzoo import hookimpl  # noqa: F401
