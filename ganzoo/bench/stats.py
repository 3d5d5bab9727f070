"""How sure a bench result is: the Student-t 95 % confidence interval of a mean over seeds and Welch's
two-sided t-test between two variants (scipy.stats)."""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Sequence

from scipy import stats as sps

CONFIDENCE = 0.95
CI_METHOD = "Student-t 95 % interval of the mean over seeds (mean ± t(0.975, n−1) · s / √n)"
TEST_METHOD = "Welch's two-sided t-test on the per-seed values, p < 0.05"


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(sps.t.ppf(q, df))


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Student-t ``confidence`` interval of the mean of ``values``; None below two values."""
    if len(values) < 2:
        return None
    half = t_quantile((1 + confidence) / 2, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return statistics.fmean(values) - half, statistics.fmean(values) + half


def welch_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test for equal means; None when either side has fewer than two
    values. Two constant samples give 1.0 when equal and 0.0 when not (the difference is exact)."""
    if len(a) < 2 or len(b) < 2:
        return None
    if statistics.variance(a) == statistics.variance(b) == 0:
        return 1.0 if statistics.fmean(a) == statistics.fmean(b) else 0.0
    with warnings.catch_warnings():  # scipy warns of precision loss for a constant side; its p-value is right
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.ttest_ind(a, b, equal_var=False).pvalue)


def distinguishable(p: float | None) -> bool:
    return p is not None and p < 1 - CONFIDENCE
