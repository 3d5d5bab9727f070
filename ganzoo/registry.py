"""One registry per component kind: name validation, duplicates, helpful unknown-name errors."""

from __future__ import annotations

import inspect

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ganzoo.errors import DuplicateComponentError, InvalidComponentError, UnknownComponentError
from ganzoo.specs import COMPONENT_KINDS, REQUIRED_METHODS

from ganzoo.naming import KIND_PLURALS, NAME_RE, PLURAL_TO_KIND  # noqa: E402,F401

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    spec: T
    plugin: str


def validate_component(kind: str, spec: Any) -> str:
    """Check ``spec`` against the contract of ``kind``; return its name."""
    if isinstance(spec, type):
        raise InvalidComponentError(
            f"{kind} {getattr(spec, 'name', spec.__name__)!r}: register an instance, not the class "
            f"{spec.__name__} (write register({spec.__name__}()))"
        )
    name = getattr(spec, "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidComponentError(
            f"invalid {kind} name {name!r}: names are lowercase kebab-case, e.g. 'my-{kind}'"
        )
    missing = [m for m in REQUIRED_METHODS[kind] if not callable(getattr(spec, m, None))]
    if missing:
        raise InvalidComponentError(
            f"{kind} {name!r} does not implement required method(s): {', '.join(missing)}"
        )
    _reject_v1_contract(kind, name, spec)
    base = COMPONENT_KINDS[kind]
    abstract = sorted(getattr(type(spec), "__abstractmethods__", ()) or ())
    if isinstance(spec, base) and abstract:
        raise InvalidComponentError(f"{kind} {name!r} does not implement required method(s): {', '.join(abstract)}")
    return name


_V1_METHODS: dict[str, dict[str, str]] = {
    "mitigation": {
        "prepare_batch": "transform(x, ctx) for augmentation, batch_needs(ctx) for packing",
        "discriminator_info": "batch_needs(ctx)",
    },
}
"""Methods of the first contracts that the engine no longer calls, and what replaced them."""


def _reject_v1_contract(kind: str, name: str, spec: Any) -> None:
    """A component written for the first contracts fails here with what to change, not mid-run."""
    for method, instead in _V1_METHODS.get(kind, {}).items():
        if callable(getattr(spec, method, None)):
            raise InvalidComponentError(
                f"{kind} {name!r} defines {method}(), which contracts v2 replaced by {instead} (see docs/plugins.md)"
            )
    if kind == "loss":
        params = list(inspect.signature(spec.generator_loss).parameters)
        if params[:2] != ["real_logits", "fake_logits"]:
            raise InvalidComponentError(
                f"loss {name!r}: generator_loss{tuple(params)} must be generator_loss(real_logits, fake_logits, "
                f"ctx=None) under contracts v2 (see docs/plugins.md)"
            )


class Registry(Generic[T]):
    """Components of one kind, by name, each with the plugin that registered it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.plural = KIND_PLURALS[kind]
        self._entries: dict[str, Entry[T]] = {}
        self.failed_plugins: Callable[[], list[str]] = list
        """Names of plugins that failed to load (set by the plugin host): any of them may be the missing provider."""

    def add(self, spec: T, plugin: str) -> None:
        name = validate_component(self.kind, spec)
        if name in self._entries:
            other = self._entries[name].plugin
            raise DuplicateComponentError(
                f"{self.kind} name {name!r} is registered by both plugin {other!r} and plugin {plugin!r}; "
                f"disable one with GANZOO_DISABLE_PLUGINS={plugin}"
            )
        self._entries[name] = Entry(name, spec, plugin)

    def check_free(self, name: str, plugin: str) -> None:
        if name in self._entries:
            other = self._entries[name].plugin
            raise DuplicateComponentError(
                f"{self.kind} name {name!r} is registered by both plugin {other!r} and plugin {plugin!r}; "
                f"disable one with GANZOO_DISABLE_PLUGINS={plugin}"
            )

    def get(self, name: str) -> T:
        return self.entry(name).spec

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownComponentError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        available = sorted(self._entries)
        close = difflib.get_close_matches(str(name), available, n=3, cutoff=0.5)
        parts = [f"unknown {self.kind} {name!r}."]
        if close:
            parts.append(f"Did you mean: {', '.join(close)}?")
        parts.append(f"Available: {', '.join(available) if available else 'none'}.")
        failed = self.failed_plugins()
        if failed:
            parts.append(f"{len(failed)} plugin(s) failed to load and may provide it: {', '.join(failed)}; "
                         f"`ganzoo plugins` shows their errors.")
        else:
            parts.append("Run `ganzoo plugins` to see loaded plugins and load errors (plugin may not be installed).")
        return " ".join(parts)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries)
