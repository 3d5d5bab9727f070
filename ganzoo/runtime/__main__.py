"""``python -m ganzoo.runtime generate MODEL.onnx -n N -o FILE``: the torch-free entry point."""

from __future__ import annotations

import click

from ganzoo.cli.common import GanzooGroup
from ganzoo.runtime.cli import command


@click.group(cls=GanzooGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ganzoo's PyTorch-free runtime for exported generators."""


main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main(prog_name="python -m ganzoo.runtime")
