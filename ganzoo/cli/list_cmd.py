"""``ganzoo list``: the registered components of each kind, with the plugin that provides each."""

from __future__ import annotations

import click

from ganzoo.cli.common import echo_json
from ganzoo.errors import ConfigError

from ganzoo.naming import KIND_PLURALS, PLURAL_TO_KIND


def _kind(value: str | None) -> list[str]:
    if value is None:
        return list(KIND_PLURALS)
    v = value.lower()
    if v in PLURAL_TO_KIND:
        return [PLURAL_TO_KIND[v]]
    if v in KIND_PLURALS:
        return [v]
    raise ConfigError(f"unknown kind {value!r}; allowed: {', '.join(KIND_PLURALS.values())}")


def component_json(entry: object) -> dict[str, object]:
    spec = entry.spec  # type: ignore[attr-defined]
    return {
        "name": entry.name,  # type: ignore[attr-defined]
        "plugin": entry.plugin,  # type: ignore[attr-defined]
        "summary": getattr(spec, "summary", ""),
        "reference": getattr(spec, "reference", ""),
        "options": {k: {"default": o.default, "help": o.help} for k, o in getattr(spec, "options", {}).items()},
    }


@click.command("list")
@click.argument("kind", required=False, metavar="[KIND]")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(kind: str | None, as_json: bool) -> None:
    """List components. KIND: architectures | losses | datasets | mitigations (default: all)."""
    from ganzoo.plugins import get_host

    host = get_host()
    kinds = _kind(kind)
    data = {KIND_PLURALS[k]: [component_json(e) for e in host.registries[k]] for k in kinds}
    if as_json:
        echo_json(data)
        return
    for plural, items in data.items():
        click.echo(f"{plural}:")
        if not items:
            click.echo("  (none)")
        width = max((len(str(i["name"])) for i in items), default=0)
        for i in items:
            click.echo(f"  {str(i['name']).ljust(width)}  {i['summary']}  [{i['plugin']}]")
            if i["reference"]:
                click.echo(f"  {''.ljust(width)}  paper: {i['reference']}")
    failed = host.failed()
    if failed:
        click.echo(f"{len(failed)} plugin(s) failed to load: {', '.join(p.name for p in failed)}; see `ganzoo plugins`.",
                   err=True)
