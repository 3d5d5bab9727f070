"""Render the templates into a new plugin directory, atomically (temp dir, then rename)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from ganzoo._version import __version__
from ganzoo.errors import ConfigError
from ganzoo.scaffold.names import PluginNames

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")

TRAIN_FLAGS = {
    "architecture": "--dataset ring8 --arch {component} --loss ns-gan",
    "loss": "--dataset ring8 --arch mlp --loss {component}",
    "dataset": "--dataset {component} --arch mlp --loss ns-gan",
    "mitigation": "--dataset ring8 --arch mlp --loss ns-gan --mitigation {component}",
    "metric": "--dataset ring8 --arch mlp --loss ns-gan --set train.eval_every=2 --set 'train.eval_metrics=[\"{component}\"]'",
}
MIXINS = {
    "architecture": "ArchitectureConformance",
    "loss": "LossConformance",
    "metric": "MetricConformance",
    "dataset": "DatasetConformance",
    "mitigation": "MitigationConformance",
}


def _template(path: str) -> str:
    return resources.files("ganzoo.scaffold").joinpath("templates", *path.split("/")).read_text(encoding="utf-8")


def _values(n: PluginNames) -> dict[str, str]:
    return {
        "name": n.name,
        "kind": n.kind,
        "kind_plural": n.kind_plural,
        "kind_title": n.kind.capitalize(),
        "component": n.component,
        "package": n.package,
        "class_name": n.class_name,
        "module": n.module,
        "hook": f"ganzoo_register_{n.kind_plural}",
        "mixin": MIXINS[n.kind],
        "train_flags": TRAIN_FLAGS[n.kind].format(component=n.component),
        "ganzoo_version": __version__,
        "test_file": n.test_file,
    }


def render(text: str, values: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    return PLACEHOLDER.sub(sub, text)


def render_files(n: PluginNames) -> dict[str, str]:
    """Relative path -> content of every file of the plugin distribution."""
    v = _values(n)
    tests = render(_template("common/test_plugin.py.tmpl"), v) + "\n\n" + render(_template(f"{n.kind}/tests.py.tmpl"), v)
    return {
        "pyproject.toml": render(_template("common/pyproject.toml.tmpl"), v),
        "README.md": render(_template("common/README.md.tmpl"), {**v, "usage": render(_template(f"{n.kind}/usage.md.tmpl"), v).strip()}),
        f"{n.package}/__init__.py": render(_template("common/package_init.py.tmpl"), v),
        f"{n.package}/plugin.py": render(_template("common/plugin.py.tmpl"), v),
        f"{n.package}/{n.module}.py": render(_template(f"{n.kind}/component.py.tmpl"), v),
        f"tests/{n.test_file}": tests.rstrip() + "\n",
    }


def create_plugin(n: PluginNames, parent: Path) -> Path:
    """Write the plugin to ``parent / n.name``; refuse to touch an existing path (nothing is written)."""
    parent = Path(parent)
    target = parent / n.name
    if target.exists() or target.is_symlink():
        raise ConfigError(f"{str(target)!r} already exists; choose another NAME or --dir (nothing was written)")
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"--dir {str(parent)!r} is not a directory")
    files = render_files(n)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{n.name}-", dir=parent))
    try:
        for rel, content in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)  # atomic; fails if the target appeared meanwhile
        except OSError:
            raise ConfigError(f"{str(target)!r} already exists; choose another NAME or --dir (nothing was written)") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
