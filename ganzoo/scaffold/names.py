"""Names derived from ``NAME``: distribution, entry point, package, component and class."""

from __future__ import annotations

import keyword
from dataclasses import dataclass

from ganzoo.errors import ConfigError
from ganzoo.naming import KIND_PLURALS, NAME_RE

KINDS = tuple(KIND_PLURALS)
"""architecture, loss, dataset, mitigation, metric."""

RESERVED_CLASS_NAMES = frozenset({
    "Any", "ArchitectureSpec", "ClassVar", "DataInfo", "DatasetSpec", "Discriminator", "GanData", "LossSpec",
    "Mapping", "MitigationSpec", "Option", "Path", "Tensor", "Callable", "MetricSpec", "MetricValue", "MetricContext",
})


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))


@dataclass(frozen=True)
class PluginNames:
    """Every name the scaffold writes for one plugin."""

    name: str           # NAME as given: distribution, entry point and directory
    kind: str           # architecture | loss | dataset | mitigation | metric
    component: str      # registered component name (NAME without a leading "ganzoo-")
    package: str        # import package: ganzoo_<component with underscores>
    class_name: str     # the component class

    @property
    def kind_plural(self) -> str:
        return KIND_PLURALS[self.kind]

    @property
    def module(self) -> str:
        """The component module inside the package (``loss``, ``architecture``, ...)."""
        return self.kind

    @property
    def test_file(self) -> str:
        return f"test_{self.component.replace('-', '_')}.py"


def plugin_names(name: str, kind: str) -> PluginNames:
    """Validate ``name`` and ``kind``; raise :class:`ConfigError` naming the problem."""
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}; allowed: {', '.join(KINDS)}")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(
            f"invalid plugin name {name!r}: use lowercase kebab-case (letters, digits and single hyphens, "
            f"starting with a letter), e.g. 'my-{kind}'"
        )
    component = name[len("ganzoo-"):] if name.startswith("ganzoo-") and len(name) > len("ganzoo-") else name
    package = "ganzoo_" + component.replace("-", "_")
    if keyword.iskeyword(package):  # pragma: no cover - "ganzoo_" prefix makes this impossible
        raise ConfigError(f"invalid plugin name {name!r}")
    cls = _camel(component)
    if cls in RESERVED_CLASS_NAMES:
        cls += _camel(kind)
    return PluginNames(name=name, kind=kind, component=component, package=package, class_name=cls)
