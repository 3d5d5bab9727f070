"""Shared CLI helpers: one-line errors for user mistakes, JSON output, option types."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ganzoo.errors import GanzooError
from ganzoo.files import storage_error


class GanzooGroup(click.Group):
    """A click group that turns :class:`GanzooError` into ``Error: <message>`` and its exit code,
    without a traceback; so are storage errors (full disk, read-only or forbidden folder), with the
    path and the cause."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GanzooError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:
            one_line = storage_error(exc)
            if one_line is None:
                raise
            click.echo(f"Error: {one_line}", err=True)
            ctx.exit(one_line.exit_code)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def fail(message: str, code: int = 2) -> NoReturn:  # type: ignore[name-defined]  # noqa: F821
    """Exit with a one-line error."""
    raise GanzooError(message)


def warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def is_tty() -> bool:
    return sys.stderr.isatty()
