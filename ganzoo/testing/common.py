"""Checks shared by every component kind, and small tensor helpers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ganzoo.config import ENGINE_SECTIONS
from ganzoo.errors import GanzooError
from ganzoo.registry import NAME_RE
from ganzoo.specs import Option
from ganzoo.testing.report import ensure, fail
from ganzoo.testing.subject import Subject

OPTION_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def check_declaration(s: Subject) -> None:
    """name, summary, reference, options (valid defaults) and recommended settings (known keys, valid values)."""
    spec = s.raw
    ensure(isinstance(s.name, str) and bool(NAME_RE.match(s.name)), s, "name must be lowercase kebab-case")
    summary = getattr(spec, "summary", None)
    ensure(isinstance(summary, str) and summary.strip() != "", s,
           "has no `summary`: set a one-line description (shown by `ganzoo list` and the docs)")
    ensure(isinstance(getattr(spec, "reference", ""), str), s, "`reference` must be a string (paper or URL)")
    options = getattr(spec, "options", {})
    ensure(isinstance(options, Mapping), s, f"`options` must be a mapping of name -> ganzoo.Option, got {type(options).__name__}")
    for key, option in options.items():
        ensure(isinstance(key, str) and bool(OPTION_KEY_RE.match(key)), s,
               f"option name {key!r} must be snake_case (it is set as {s.kind}.{key}=VALUE)")
        ensure(isinstance(option, Option), s, f"option {key!r} must be a ganzoo.Option, got {type(option).__name__}")
        if option.default is not None:
            try:
                option.validate(key, option.default)
            except GanzooError as exc:
                fail(s, f"option {key!r}: its default is not allowed by its own declaration: {exc}")
    opts = getattr(s.spec, "opts", None)
    ensure(isinstance(opts, Mapping), s, "with_options() must return a copy whose `opts` is a mapping")
    assert isinstance(opts, Mapping)
    missing = sorted(set(options) - set(opts))
    ensure(not missing, s, f"with_options() result lacks option(s) {missing} in `opts`")
    recommended = getattr(spec, "recommended", {}) or {}
    ensure(isinstance(recommended, Mapping), s, "`recommended` must be a mapping of 'section.key' -> value")
    for dotted, value in recommended.items():
        parts = str(dotted).split(".")
        if len(parts) != 2 or parts[0] not in ENGINE_SECTIONS or parts[1] not in ENGINE_SECTIONS[parts[0]]:
            known = ", ".join(f"{sec}.{k}" for sec, keys in ENGINE_SECTIONS.items() for k in keys)
            fail(s, f"recommends unknown setting {dotted!r}; known settings: {known}")
        try:
            ENGINE_SECTIONS[parts[0]][parts[1]].validate(dotted, value)
        except GanzooError as exc:
            fail(s, f"recommended setting is invalid: {exc}")


def is_finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t.detach().float()).all())


def shape(t: Any) -> str:
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__


def parameter_grads(module: nn.Module) -> tuple[list[str], list[str]]:
    """Names of trainable parameters without a gradient, and with a non-finite one."""
    missing, bad = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        if p.grad is None:
            missing.append(name)
        elif not is_finite(p.grad):
            bad.append(name)
    return missing, bad


def state_snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed_entries(module: nn.Module, before: Mapping[str, torch.Tensor]) -> list[str]:
    after = module.state_dict()
    changed = [k for k in before if k not in after or not torch.equal(after[k].detach(), before[k])]
    return changed + [k for k in after if k not in before]
