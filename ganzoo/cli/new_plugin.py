"""``ganzoo new-plugin``: write a complete, installable plugin distribution to start from."""

from __future__ import annotations

from pathlib import Path

import click

from ganzoo.scaffold.names import KINDS


@click.command("new-plugin")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What the plugin provides.")
@click.option("--dir", "parent", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Where to create the NAME/ directory.")
def command(name: str, kind: str, parent: Path) -> None:
    """Create NAME/: a plugin distribution with a working example KIND, its tests and a README.

    NAME is kebab-case (e.g. my-loss); it names the distribution, the entry point and the
    component. Then: pip install -e ./NAME && ganzoo list KINDs && python -m pytest NAME/tests
    """
    from ganzoo.errors import ConfigError
    from ganzoo.plugins import get_host
    from ganzoo.scaffold import create_plugin, plugin_names

    names = plugin_names(name, kind)
    registry = get_host().registries[kind]
    if names.component in registry:
        raise ConfigError(
            f"{kind} name {names.component!r} is already registered by plugin {registry.entry(names.component).plugin!r}; "
            f"choose another NAME (nothing was written)"
        )
    target = create_plugin(names, parent)
    shown = str(target) if target.is_absolute() else f"./{target}"
    click.echo(f"Created {shown}/ ({kind} {names.component!r}, package {names.package}). Next:")
    click.echo(f"  pip install -e {shown}")
    click.echo(f"  ganzoo list {names.kind_plural}")
    click.echo(f"  python -m pytest {shown}/tests")
