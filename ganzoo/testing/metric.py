"""Conformance checks for metrics: the catalogue entry (``values``), ``applies`` and ``compute`` on
stand-in samples of every standard data shape the metric applies to."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from ganzoo.metrics.builtin import FidelityMetric, ModeCoverage
from ganzoo.specs import DataInfo, MetricContext, MetricValue
from ganzoo.testing.common import check_declaration
from ganzoo.testing.report import Check, SkipCheck, ensure
from ganzoo.testing.subject import Subject
from ganzoo.testing.synthetic import standard_infos

N = 64


def check_values(s: Subject) -> None:
    """``values`` maps each reported number's name to a MetricValue with a direction and a label."""
    values = getattr(s.raw, "values", None)
    ensure(isinstance(values, Mapping) and len(values) > 0, s,
           "`values` must be a non-empty mapping of value name -> ganzoo.MetricValue (the catalogue entry)")
    assert isinstance(values, Mapping)
    for key, value in values.items():
        ensure(isinstance(key, str) and key.isidentifier() and key == key.lower(), s,
               f"value name {key!r} must be lowercase snake_case (it names a column in eval.json and bench reports)")
        ensure(isinstance(value, MetricValue), s, f"value {key!r} must be a ganzoo.MetricValue, got {type(value).__name__}")
        ensure(value.direction in ("min", "max"), s, f"value {key!r}: direction must be 'min' or 'max', got {value.direction!r}")
        ensure(isinstance(value.label, str) and value.label.strip() != "", s, f"value {key!r} needs a label")


def _applicable(s: Subject) -> list[DataInfo]:
    out = []
    for info in standard_infos():
        reason = s.spec.applies(info)
        ensure(reason is None or (isinstance(reason, str) and reason.strip() != ""), s,
               f"applies({info.kind} {info.shape}) must return None or a reason, got {reason!r}")
        if reason is None:
            out.append(info)
    return out


def _context(info: DataInfo, shift: float) -> MetricContext:
    def draw(n: int, seed: int, offset: float) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, *info.shape, generator=g) * 0.5 + offset
        return x.clamp(-1, 1) if info.kind == "image" else x

    return MetricContext(info=info, sample=lambda n: draw(n, 1, shift), real=lambda n: draw(n, 2, 0.0),
                         num_samples=N, seed=0, device=torch.device("cpu"))


def check_compute(s: Subject) -> None:
    """compute() returns a finite number for every value, deterministically, on each applicable shape."""
    if isinstance(s.raw, (FidelityMetric, ModeCoverage)):
        raise SkipCheck("computed by ganzoo.metrics.evaluate (torch-fidelity / mode protocol); covered by tests/eval")
    infos = _applicable(s)
    if not infos:
        raise SkipCheck("applies() refuses every standard data shape")
    for info in infos[:2]:
        first = s.spec.compute(_context(info, 0.3))
        ensure(isinstance(first, Mapping), s, f"compute() must return a mapping of value -> number, got {type(first).__name__}")
        for key in s.raw.values:
            v = first.get(key)
            ensure(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)), s,
                   f"compute() on {info.kind} {info.shape} gave {key}={v!r}; expected a finite number")
        again = s.spec.compute(_context(info, 0.3))
        ensure({k: float(again[k]) for k in s.raw.values} == {k: float(first[k]) for k in s.raw.values}, s,
               "compute() gave different values for the same samples; derive all randomness from ctx.seed")


CHECKS = [
    Check("declaration", check_declaration),
    Check("values", check_values),
    Check("compute", check_compute),
]
