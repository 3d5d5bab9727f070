"""The metric catalogue: every number ganzoo reports, how it reads (direction, label, format) and
which registered metric produces it. ``ganzoo eval``, evaluation during training and ``ganzoo bench``
read metric facts from here and nowhere else; plugins add entries by registering a
:class:`~ganzoo.MetricSpec`.
"""

from __future__ import annotations

import re
from typing import Any

from ganzoo.errors import ConfigError
from ganzoo.metrics.builtin import FidelityMetric
from ganzoo.plugins import get_host
from ganzoo.specs import MetricSpec, MetricValue

__all__ = ["ENGINE_VALUES", "catalogue", "value_info", "metric_for_value", "metric_names", "base_name", "is_better", "current_name", "LEGACY_NAMES",
           "check_value_name", "extractor_of"]

ENGINE_VALUES: dict[str, MetricValue] = {
    "wall_time": MetricValue("min", "wall time", unit="s", fmt=".1f"),
    "img_per_s": MetricValue("max", "img/s", fmt=".0f"),
}
"""Figures the training engine measures itself (reported by the bench beside the metrics)."""


LEGACY_NAMES = {"kl": "reverse_kl"}
"""Value names of older releases -> today's (read from existing eval.json and bench records)."""


def current_name(name: str) -> str:
    """``kl`` (older releases) -> ``reverse_kl``; any other name unchanged."""
    return LEGACY_NAMES.get(name, name)


def base_name(name: str) -> str:
    """``fid[classifier:mnist]`` -> ``fid``: a value measured with a named feature extractor."""
    return name.split("[", 1)[0]


EXTRACTOR_SUFFIX = re.compile(r"^\[[A-Za-z0-9_.:/-]+\]$")


def extractor_of(name: str) -> str | None:
    """``fid[classifier:mnist]`` -> ``classifier:mnist``; None for a name without an extractor."""
    return name[len(base_name(name)) + 1: -1] if name != base_name(name) else None


def _host(host: Any) -> Any:
    return host if host is not None else get_host()


def catalogue(host: Any = None) -> dict[str, MetricValue]:
    """Every value name -> how it reads: the registered metrics' values, then the engine's figures."""
    out: dict[str, MetricValue] = {}
    for entry in _host(host).metrics:
        out.update(entry.spec.values)
    return {**out, **ENGINE_VALUES}


def metric_names(host: Any = None) -> list[str]:
    """Names accepted by ``--metrics`` (the registered metrics)."""
    return _host(host).metrics.names()


def metric_for_value(value: str, host: Any = None) -> MetricSpec:
    """The registered metric reporting ``value`` (``precision`` -> ``prc``); a :class:`ConfigError` for an
    unknown one."""
    h = _host(host)
    base = base_name(value)
    for entry in h.metrics:
        if base in entry.spec.values or base == entry.name:
            return entry.spec
    known = sorted({v for e in h.metrics for v in e.spec.values})
    failed = h.metrics.failed_plugins()
    hint = f"; {len(failed)} plugin(s) failed to load and may provide it: {', '.join(failed)} (see `ganzoo plugins`)" if failed else ""
    raise ConfigError(f"unknown metric {value!r}; known: {', '.join(known)}{hint}")


def value_info(name: str, host: Any = None) -> MetricValue:
    """How ``name`` reads (``fid[EXTRACTOR]`` reads like ``fid``, labelled with its extractor); an
    unknown name reads as a plain number where higher is better."""
    base = base_name(name)
    info = catalogue(host).get(base)
    if info is None:
        return MetricValue("max", name)
    if base != name:
        return MetricValue(info.direction, f"{info.label} {name[len(base):]}", info.percent, info.unit, info.fmt)
    return info


def is_better(name: str, a: float, b: float, host: Any = None) -> bool:
    """Whether ``a`` is strictly better than ``b`` for the value ``name``."""
    return a < b if value_info(name, host).direction == "min" else a > b


def check_value_name(name: str, host: Any = None) -> str:
    """``name`` when a registered metric reports it (an FID-like value optionally measured with a named feature
    extractor: ``fid[classifier:shapes]``); else a :class:`ConfigError` naming the known values."""
    base, known = base_name(name), [v for v in catalogue(host) if v not in ENGINE_VALUES]
    spec = metric_for_value(base, host) if base in known else None
    if spec is None or (name != base and not (isinstance(spec, FidelityMetric) and EXTRACTOR_SUFFIX.match(name[len(base):]))):
        hint = f" (renamed {current_name(name)!r})" if current_name(name) != name else ""
        raise ConfigError(f"unknown metric {name!r}{hint}; known: {', '.join(known)} (FID-like ones optionally with a "
                          "feature extractor, e.g. fid[classifier:shapes])")
    return name
