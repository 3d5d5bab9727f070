"""The suite files RESULTS.md runs (``benchmarks/suites/*.toml``) parse and name installed components."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganzoo.bench.suite import fingerprint, load_suite, user_tree, validate_components
from ganzoo.config import resolve

SUITE_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "suites"
SUITES = sorted(SUITE_DIR.glob("*.toml"))


def test_there_are_benchmark_suites():
    assert [p.name for p in SUITES if p.name == "stacked-mnist-cpu.toml"]


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_benchmark_suite_is_valid(path):
    suite = load_suite(path)
    validate_components(suite)
    assert suite.name == path.stem
    assert suite.published, "a benchmark suite puts published rows beside ours"


@pytest.mark.parametrize("stem", ["mode-collapse-2d-recipe", "mode-collapse-2d-recipe-fresh-seed"])
def test_recipe_suites_run_the_shipped_recipe(stem):
    """RESULTS.md's recipe table is measured on exactly the ``*-recipe`` variants of the built-in suite."""
    builtin, bench = load_suite("mode-collapse-2d"), load_suite(SUITE_DIR / f"{stem}.toml")
    shipped = {v.name: v for v in builtin.variants if v.name.endswith("-recipe")}
    assert sorted(shipped) == sorted(v.name for v in bench.variants) == ["grid25-recipe", "ring8-recipe"]
    for v in bench.variants:
        ours = user_tree(bench, v, seed=7, steps=v.steps, device="cpu")
        assert ours == user_tree(builtin, shipped[v.name], seed=7, steps=shipped[v.name].steps, device="cpu")
        assert fingerprint(ours) == fingerprint(user_tree(builtin, shipped[v.name], seed=7, steps=1, device="cuda"))
    assert bench.metrics == builtin.metrics


@pytest.mark.parametrize(("stem", "suffix", "mitigation", "datasets"), [
    ("mode-collapse-2d-topk", "-recipe-topk", "top-k", ("grid25", "ring8")),
    ("mode-collapse-2d-jt", "-recipe-jt", "jacobian-truncation", ("grid25", "ring8")),
    ("mode-collapse-2d-jt-fresh-seed", "-recipe-jt", "jacobian-truncation", ("grid25", "ring8")),
    ("mode-collapse-2d-rr", "-recipe-rr", "ratio-rejection", ("grid25",)),
    ("mode-collapse-2d-rr-fresh-seed", "-recipe-rr", "ratio-rejection", ("grid25",)),
    ("mode-collapse-2d-rrf", "-recipe-rrf", "ratio-rejection", ("grid25",)),
    ("mode-collapse-2d-rrf-fresh-seed", "-recipe-rrf", "ratio-rejection", ("grid25",)),
    ("mode-collapse-2d-sir", "-recipe-sir", "ratio-rejection", ("grid25", "ring8")),
    ("mode-collapse-2d-sir-fresh-seed", "-recipe-sir", "ratio-rejection", ("grid25",))])
def test_mitigation_suites_resolve_to_the_shipped_variants(stem, suffix, mitigation, datasets):
    """RESULTS.md's top-k, Jacobian-truncation and ratio-rejection tables ran from suites whose config trees may omit defaults that the
    built-in suite spells out: the resolved configurations must be equal, but for the seed, steps and device."""
    builtin, bench = load_suite("mode-collapse-2d"), load_suite(SUITE_DIR / f"{stem}.toml")
    shipped = {v.name: v for v in builtin.variants if v.name.endswith(suffix) and v.dataset in datasets}
    assert sorted(shipped) == sorted(v.name for v in bench.variants) == [f"{d}{suffix}" for d in datasets]
    for v in bench.variants:
        ours = resolve(user_tree(bench, v, seed=7, steps=25_000, device="cpu")).to_dict()
        theirs = resolve(user_tree(builtin, shipped[v.name], seed=7, steps=25_000, device="cpu")).to_dict()
        assert ours == theirs and ours["run"]["mitigations"] == [mitigation]
    assert bench.metrics == builtin.metrics
