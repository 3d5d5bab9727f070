"""The suite files RESULTS.md runs (``benchmarks/suites/*.toml``) parse and name installed components."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganzoo.bench.suite import load_suite, validate_components

SUITES = sorted((Path(__file__).resolve().parents[2] / "benchmarks" / "suites").glob("*.toml"))


def test_there_are_benchmark_suites():
    assert [p.name for p in SUITES if p.name == "stacked-mnist-cpu.toml"]


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_benchmark_suite_is_valid(path):
    suite = load_suite(path)
    validate_components(suite)
    assert suite.name == path.stem
    assert suite.published, "a benchmark suite puts published rows beside ours"
