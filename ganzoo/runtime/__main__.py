"""``python -m ganzoo.runtime generate MODEL.onnx -n N -o FILE``: the torch-free entry point."""

from __future__ import annotations

from typing import Any

import click

from ganzoo.errors import GanzooError
from ganzoo.runtime.cli import command


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GanzooError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ganzoo's PyTorch-free runtime for exported generators."""


main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main(prog_name="python -m ganzoo.runtime")
