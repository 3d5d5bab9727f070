"""``ganzoo plugins``: the loaded plugins, what each registers, and load errors."""

from __future__ import annotations

import click

from ganzoo.cli.common import echo_json


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(as_json: bool) -> None:
    """List plugins: name, distribution, version, components, status and errors."""
    from ganzoo.plugins import get_host

    host = get_host()
    if as_json:
        echo_json([p.to_json() for p in host.plugins])
        return
    for p in host.plugins:
        head = f"{p.name}  ({p.distribution or '?'} {p.version or ''})".rstrip()
        click.echo(head + ("" if p.status == "loaded" else f"  [{p.status.upper()}]"))
        if p.error:
            click.echo(f"    error: {p.error}")
        for kind, names in sorted(p.components.items()):
            click.echo(f"    {kind}: {', '.join(names)}")
