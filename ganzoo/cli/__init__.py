"""The ``ganzoo`` command line. One module per command under ``ganzoo/cli/``; each exposes
``command`` (a :class:`click.Command`)."""

from __future__ import annotations

import importlib

import click

from ganzoo._version import __version__
from ganzoo.cli.common import GanzooGroup

COMMAND_MODULES = (
    "plugins_cmd",
    "list_cmd",
    "doctor",
    "train",
    "resume",
    "sample",
    "eval_cmd",
    "export_cmd",
    "generate",
    "bench",
    "new_plugin",
)


@click.group(cls=GanzooGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "show_default": True})
@click.version_option(__version__, "--version", prog_name="ganzoo", message="%(prog)s %(version)s")
def cli() -> None:
    """ganzoo: train, compare, evaluate and export GAN variants, with plugins."""


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"ganzoo.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command not written yet
        if _exc.name != f"ganzoo.cli.{_name}":
            raise
        continue
    cli.add_command(_module.command)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"Warning: {message}\n"


def main() -> None:
    """Console-script entry point."""
    import warnings

    warnings.formatwarning = _one_line_warning
    cli(prog_name="ganzoo")


if __name__ == "__main__":  # pragma: no cover
    main()
