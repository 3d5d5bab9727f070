"""Entry point of the built-in ganzoo-mitigations plugin."""

from ganzoo import hookimpl  # noqa: F401
