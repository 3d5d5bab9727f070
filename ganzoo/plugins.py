"""The plugin host: loads plugins from the ``ganzoo`` entry-point group into one registry per kind.

Built-in plugins are found the same way as third-party ones. A plugin that fails to import or to
register is recorded (name, distribution, version, error) and skipped; the others keep working.

Environment:
  ``GANZOO_STRICT_PLUGINS=1``   make any plugin failure an error.
  ``GANZOO_DISABLE_PLUGINS=a,b`` skip the named plugins (entry-point or distribution names).
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from ganzoo import ENTRY_POINT_GROUP, PROJECT_NAME, hookspecs
from ganzoo.errors import GanzooError, PluginLoadError
from ganzoo.registry import KIND_PLURALS, Registry, validate_component

STRICT_ENV = "GANZOO_STRICT_PLUGINS"
DISABLE_ENV = "GANZOO_DISABLE_PLUGINS"

OBSERVER_HOOKS = ("ganzoo_train_start", "ganzoo_log", "ganzoo_checkpoint_saved", "ganzoo_train_end")
"""Hooks that watch a run. A plugin's implementation that raises is reported once and the run goes on."""

REGISTER_HOOKS = {
    "architecture": "ganzoo_register_architectures",
    "loss": "ganzoo_register_losses",
    "dataset": "ganzoo_register_datasets",
    "mitigation": "ganzoo_register_mitigations",
    "metric": "ganzoo_register_metrics",
}


@dataclass
class PluginInfo:
    """One plugin as loaded (or not)."""

    name: str
    distribution: str = ""
    version: str = ""
    module: str = ""
    status: str = "loaded"  # loaded | failed | disabled
    error: str | None = None
    components: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "components": {KIND_PLURALS[k]: v for k, v in self.components.items()},
        }


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _disabled_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {p.strip() for p in raw.split(",") if p.strip()}


class PluginHost:
    """The plugin manager plus the four registries."""

    def __init__(self, *, strict: bool | None = None, disabled: set[str] | None = None) -> None:
        self.strict = _env_flag(STRICT_ENV) if strict is None else strict
        self.disabled = _disabled_names() if disabled is None else set(disabled)
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.registries: dict[str, Registry[Any]] = {kind: Registry(kind) for kind in REGISTER_HOOKS}
        for registry in self.registries.values():
            registry.failed_plugins = lambda: [p.name for p in self.failed()]
        self._spec_names = {n for n in dir(hookspecs) if n.startswith("ganzoo_")}
        self.observer_failures: list[dict[str, str]] = []
        """One entry per (plugin, hook) whose observer implementation raised: plugin, hook, error."""

    # ------------------------------------------------------------------ access
    @property
    def architectures(self) -> Registry[Any]:
        return self.registries["architecture"]

    @property
    def losses(self) -> Registry[Any]:
        return self.registries["loss"]

    @property
    def datasets(self) -> Registry[Any]:
        return self.registries["dataset"]

    @property
    def mitigations(self) -> Registry[Any]:
        return self.registries["mitigation"]

    @property
    def metrics(self) -> Registry[Any]:
        return self.registries["metric"]

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def failed(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.status == "failed"]

    def plugin_versions(self) -> dict[str, str]:
        return {p.name: p.version for p in self.plugins if p.status == "loaded"}

    # ------------------------------------------------------------------ loading
    def load_entry_points(self) -> PluginHost:
        eps = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        seen: set[str] = set()
        for ep in eps:
            if ep.name in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist is not None else "",
                version=dist.version if dist is not None else "",
                module=ep.value,
            )
            if ep.name in self.disabled or (info.distribution and info.distribution in self.disabled):
                info.status = "disabled"
                self.plugins.append(info)
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure is reported, not fatal
                self._fail(info, f"import failed: {type(exc).__name__}: {exc}", exc)
                continue
            self.add_plugin(obj, info)
        return self

    def add_plugin(self, obj: Any, info: PluginInfo | str) -> PluginInfo:
        """Register a plugin object (module or instance with ``@hookimpl`` functions)."""
        if isinstance(info, str):
            info = PluginInfo(name=info, module=getattr(obj, "__name__", type(obj).__name__))
        try:
            self._check_hook_names(obj, info.name)
            self.pm.register(obj, name=info.name)
        except Exception as exc:  # noqa: BLE001
            self._fail(info, f"registration failed: {type(exc).__name__}: {exc}", exc)
            return info
        try:
            staged = self._collect_components(info.name)
        except Exception as exc:  # noqa: BLE001
            self.pm.unregister(name=info.name)
            self._fail(info, f"registration failed: {type(exc).__name__}: {exc}", exc)
            return info
        for kind, spec in staged:
            self.registries[kind].add(spec, info.name)
            info.components.setdefault(kind, []).append(spec.name)
        self.plugins.append(info)
        return info

    def _check_hook_names(self, obj: Any, plugin: str) -> None:
        for attr in dir(obj):
            if not attr.startswith("ganzoo_"):
                continue
            if self.pm.parse_hookimpl_opts(obj, attr) is None:
                continue
            if attr not in self._spec_names:
                raise GanzooError(
                    f"unknown hook {attr!r} (misspelled?); known hooks: {', '.join(sorted(self._spec_names))}"
                )

    def _collect_components(self, plugin: str) -> list[tuple[str, Any]]:
        staged: list[tuple[str, Any]] = []
        staged_names: dict[str, set[str]] = {k: set() for k in REGISTER_HOOKS}
        for kind, hook_name in REGISTER_HOOKS.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin_name != plugin:
                    continue

                def register(spec: Any, _kind: str = kind) -> None:
                    name = validate_component(_kind, spec)
                    self.registries[_kind].check_free(name, plugin)
                    if name in staged_names[_kind]:
                        raise GanzooError(f"{_kind} name {name!r} is registered twice by plugin {plugin!r}")
                    staged_names[_kind].add(name)
                    staged.append((_kind, spec))

                impl.function(register=register)
        return staged

    def _fail(self, info: PluginInfo, message: str, exc: BaseException) -> None:
        info.status = "failed"
        info.error = message
        self.plugins.append(info)
        if self.strict:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            raise PluginLoadError(
                f"plugin {info.name!r} ({info.distribution or 'no distribution'} {info.version}) failed: "
                f"{message} [{STRICT_ENV} is set; unset it to skip broken plugins]"
                if detail else message
            ) from exc


def call_observer(host: Any, hook: str, **kwargs: Any) -> bool:
    """Call observer ``hook`` (one of :data:`OBSERVER_HOOKS`) on every plugin implementing it.

    An implementation that raises does not stop the others nor the caller: the first failure of each
    (plugin, hook) is printed on stderr, naming both, and appended to ``host.observer_failures``.
    Returns True when a new failure was recorded (the caller may update the run's status)."""
    if hook not in OBSERVER_HOOKS:
        raise ValueError(f"{hook!r} is not an observer hook; observers: {', '.join(OBSERVER_HOOKS)}")
    caller = getattr(host.hook, hook)
    recorded: list[dict[str, str]] | None = getattr(host, "observer_failures", None)
    if recorded is None:  # a host-like object without the record: keep one on it
        recorded = []
        host.observer_failures = recorded
    failures = recorded
    new = False
    for impl in reversed(caller.get_hookimpls()):  # pluggy's call order: last registered first
        if getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False):
            continue  # wrappers only make sense around a call; observers have no result to wrap
        try:
            impl.function(**{name: kwargs[name] for name in impl.argnames if name in kwargs})
        except Exception as exc:  # noqa: BLE001 - a watcher must not kill the run
            if any(f["plugin"] == impl.plugin_name and f["hook"] == hook for f in failures):
                continue
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            failures.append({"plugin": impl.plugin_name, "hook": hook, "error": error})
            print(f"Warning: plugin {impl.plugin_name!r} failed in {hook} ({error}); training goes on "
                  f"(further failures of this hook are not shown)", file=sys.stderr)
            new = True
    return new


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded from entry points on first use."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost().load_entry_points()
    return _HOST


def reset_host() -> None:
    """Forget the loaded plugins (tests, or after changing the environment variables)."""
    global _HOST
    _HOST = None
