"""Statistics over seeds (or any repeated measurement): mean, sample std and the Student-t 95 % interval of the mean
(:class:`Stat`), Welch's t-test for two sets of values, and how reports write them. ``ganzoo bench`` and the
scripts in ``benchmarks/`` state their confidence with these."""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

CONFIDENCE = 0.95
CI_METHOD = "Student-t 95 % interval of the mean over seeds (mean ± t(0.975, n−1) · s / √n)"
TEST_METHOD = "Welch's two-sided t-test on the per-seed values, p < 0.05"


def mean_ci(values: Sequence[float]) -> tuple[float, float] | None:
    """The Student-t 95 % interval of the mean of ``values``; None below two values."""
    if len(values) < 2:
        return None
    half = float(sps.t.ppf((1 + CONFIDENCE) / 2, len(values) - 1)) * statistics.stdev(values) / len(values) ** 0.5
    return statistics.fmean(values) - half, statistics.fmean(values) + half


def welch_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test for equal means; None when a side has fewer than two values. Two constant
    samples give 1.0 when equal and 0.0 when not (the difference is exact)."""
    if len(a) < 2 or len(b) < 2:
        return None
    if statistics.variance(a) == statistics.variance(b) == 0:
        return 1.0 if statistics.fmean(a) == statistics.fmean(b) else 0.0
    with warnings.catch_warnings():  # scipy warns of precision loss for a constant side; its p-value is right
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.ttest_ind(a, b, equal_var=False).pvalue)


@dataclass
class Stat:
    """Mean, sample std, Student-t 95 % interval of the mean (both None below 2 values), min, max of the finite values."""

    values: list[float]
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Stat:
        xs = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if not xs:
            return cls(xs)
        return cls(xs, statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else None, min(xs), max(xs),
                   *(mean_ci(xs) or (None, None)))

    @property
    def n(self) -> int:
        return len(self.values)

    def text(self, fmt: Callable[[float], str] = "{:.3g}".format) -> str:
        """``mean [low, high]`` (the 95 % interval of the mean), ``mean (n = 1)``, or ``–`` without values."""
        if self.mean is None:
            return "–"
        if self.ci_low is None or self.ci_high is None:
            return f"{fmt(self.mean)} (n = {self.n})"
        return f"{fmt(self.mean)} [{fmt(self.ci_low)}, {fmt(self.ci_high)}]"

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "ci95": [self.ci_low, self.ci_high] if self.ci_low is not None else None,
                "min": self.min, "max": self.max, "n": self.n, "values": self.values}


def p_text(p: float | None) -> str:
    """``p < 0.001``, ``p = 0.023``, ``p = 0.41``; None (fewer than two values on a side) says so."""
    if p is None:
        return "not testable with one seed"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"
