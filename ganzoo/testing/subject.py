"""The component under test, configured with tiny options, inside a private plugin host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ganzoo import hookimpl
from ganzoo.errors import GanzooError
from ganzoo.plugins import REGISTER_HOOKS, PluginHost, get_host
from ganzoo.registry import KIND_PLURALS, validate_component
from ganzoo.testing.report import ConformanceError
from ganzoo.testing.synthetic import SyntheticImage, SyntheticVector

TINY_OPTIONS: dict[str, dict[str, Any]] = {
    "architecture": {"width": 8, "hidden": 16, "latent_dim": 16},
    "dataset": {"size": 256},
    "loss": {},
    "mitigation": {},
}
"""Options set (when the component declares them and the value is valid) to keep checks fast."""

HARNESS_PLUGIN = "ganzoo-testing"


@dataclass
class Subject:
    """A component under test: ``spec`` is configured; ``host`` has it registered under ``name``."""

    kind: str
    name: str
    spec: Any
    raw: Any
    options: dict[str, Any]
    host: PluginHost
    state: dict[str, Any] = field(default_factory=dict)

    def tiny_options(self, kind: str, name: str) -> dict[str, Any]:
        """Options for a component of the host used in a run: the subject's own, or tiny ones."""
        if kind == self.kind and name == self.name:
            return dict(self.options)
        return tiny_options_for(self.host.registries[kind].get(name), kind)


def tiny_options_for(spec: Any, kind: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The :data:`TINY_OPTIONS` that ``spec`` declares and accepts, then ``extra`` on top."""
    declared = getattr(spec, "options", {}) or {}
    out: dict[str, Any] = {}
    for key, value in TINY_OPTIONS.get(kind, {}).items():
        option = declared.get(key)
        if option is None:
            continue
        try:
            out[key] = option.validate(key, value)
        except GanzooError:
            continue
    out.update(extra or {})
    return out


def smallest_architecture(s: Subject, info: Any) -> str | None:
    """The registered architecture that handles ``info`` with the fewest generator parameters under tiny
    options (the fastest partner for checks of other components), or None."""
    best: tuple[int, str] | None = None
    for entry in s.host.architectures:
        spec = entry.spec.with_options(s.tiny_options("architecture", entry.name), prefix="arch")
        if spec.supports(info) is not None:
            continue
        size = sum(p.numel() for p in spec.build_generator(info).parameters())
        if best is None or (size, entry.name) < best:
            best = (size, entry.name)
    return best[1] if best else None


def plain_loss(s: Subject) -> str:
    """A registered loss without a penalty or real logits in the G step (else the first one): the
    cheapest partner for checks of other components."""
    names = s.host.losses.names()
    for name in names:
        spec = s.host.losses.get(name)
        if spec.batch_norm_ok and not spec.needs_real_logits and int(spec.recommended.get("train.n_critic", 1)) == 1:
            return name
    return names[0]


def penalty_loss(s: Subject) -> str | None:
    """A registered loss that asks for a discriminator without BatchNorm (a gradient penalty), or None."""
    return next((n for n in s.host.losses.names() if not s.host.losses.get(n).batch_norm_ok), None)


class _HarnessPlugin:
    """Registers a fixed list of (kind, spec) pairs."""

    def __init__(self, specs: list[tuple[str, Any]]) -> None:
        self.specs = specs

    def _register(self, kind: str, register: Any) -> None:
        for k, spec in self.specs:
            if k == kind:
                register(spec)

    @hookimpl
    def ganzoo_register_architectures(self, register: Any) -> None:
        self._register("architecture", register)

    @hookimpl
    def ganzoo_register_losses(self, register: Any) -> None:
        self._register("loss", register)

    @hookimpl
    def ganzoo_register_datasets(self, register: Any) -> None:
        self._register("dataset", register)

    @hookimpl
    def ganzoo_register_mitigations(self, register: Any) -> None:
        self._register("mitigation", register)


class _PrepareExport:
    """Forwards one plugin's ``ganzoo_prepare_export`` (and no other hook) into the harness host."""

    def __init__(self, function: Any, argnames: tuple[str, ...]) -> None:
        self.function = function
        self.argnames = argnames

    @hookimpl
    def ganzoo_prepare_export(self, architecture: str, generator: Any, info: Any) -> Any:
        args = {"architecture": architecture, "generator": generator, "info": info}
        return self.function(**{k: args[k] for k in self.argnames})


def _not_registered(kind: str, name: str, source: PluginHost) -> ConformanceError:
    msg = f"{kind} {name!r} is not registered: {source.registries[kind].unknown_message(name)}"
    failed = source.failed()
    if failed:
        msg += " Plugin load errors: " + "; ".join(f"{p.name}: {p.error}" for p in failed)
    return ConformanceError(msg)


def harness_host(source: PluginHost, replace: Mapping[tuple[str, str], Any] | None = None) -> PluginHost:
    """A private host holding every component of ``source`` (with ``replace`` swapped in) plus the
    synthetic datasets; the global host is never changed."""
    replace = dict(replace or {})
    specs: list[tuple[str, Any]] = []
    for kind in REGISTER_HOOKS:
        for entry in source.registries[kind]:
            specs.append((kind, replace.pop((kind, entry.name), entry.spec)))
    specs += [(k, spec) for (k, _), spec in replace.items()]  # components not in ``source``
    for synthetic in (SyntheticVector(), SyntheticImage()):
        if synthetic.name not in source.datasets:
            specs.append(("dataset", synthetic))
    host = PluginHost(strict=True, disabled=set())
    host.add_plugin(_HarnessPlugin(specs), HARNESS_PLUGIN)
    # Export hooks keep working; lifecycle hooks (logging, notifications) of real plugins stay out.
    for impl in source.hook.ganzoo_prepare_export.get_hookimpls():
        host.pm.register(_PrepareExport(impl.function, tuple(impl.argnames)), name=f"{impl.plugin_name}:prepare-export")
    return host


def resolve_subject(
    kind: str, component: Any, options: Mapping[str, Any] | None = None, *,
    host: PluginHost | None = None, tiny: bool = True,
) -> Subject:
    """Find (a name) or validate (a spec object) the component and configure it.

    Raises :class:`ConformanceError` when it is not registered or breaks the basic contract
    (the message names the missing method)."""
    if kind not in KIND_PLURALS:
        raise ValueError(f"unknown component kind {kind!r}; allowed: {', '.join(KIND_PLURALS)}")
    source = host or get_host()
    if isinstance(component, str):
        if component not in source.registries[kind]:
            raise _not_registered(kind, component, source)
        raw = source.registries[kind].get(component)
    else:
        raw = component
    try:
        name = validate_component(kind, raw)
    except GanzooError as exc:
        raise ConformanceError(str(exc)) from None
    values = tiny_options_for(raw, kind) if tiny else {}
    values.update(options or {})
    try:
        configured = raw.with_options(values, prefix=kind)
    except GanzooError as exc:
        raise ConformanceError(f"{kind} {name!r}: cannot be configured with options {values}: {exc}") from None
    except Exception as exc:  # noqa: BLE001
        raise ConformanceError(f"{kind} {name!r}: with_options() failed: {type(exc).__name__}: {exc}") from None
    private = harness_host(source, {(kind, name): raw})
    return Subject(kind, name, configured, raw, dict(values), private)
