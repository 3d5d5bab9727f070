"""Entry point of the built-in ganzoo-images plugin."""

from ganzoo import hookimpl  # noqa: F401
