"""benchmarks/publish_bench.py turns a real bench directory into a RESULTS.md section with its figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ganzoo.bench.runner import BenchOptions, run_bench
from tests.bench.conftest import write_suite

REPO = Path(__file__).resolve().parents[2]


def _publish_module():
    spec = importlib.util.spec_from_file_location("publish_bench", REPO / "benchmarks" / "publish_bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_publish_writes_a_marked_section_with_working_figure_links_and_replaces_it_next_time(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_bench(BenchOptions(suite=write_suite(tmp_path), out=out, workers=2, quiet=True, variants=("gan",)))
    docs, results = tmp_path / "docs" / "images", tmp_path / "bench" / "RESULTS.md"
    results.parent.mkdir()
    results.write_text("# Benchmark results\n\n## Older section\n\nkept\n", encoding="utf-8")
    publish = _publish_module().publish

    suite, image_dir = publish(out, results, note="Run on a laptop.", images_root=docs)
    text = results.read_text(encoding="utf-8")
    assert suite == "tiny" and image_dir == docs / "tiny"
    assert text.startswith("# Benchmark results\n\n<!-- bench:tiny:start -->\n## ganzoo bench: tiny")
    assert "## Older section\n\nkept" in text and "Run on a laptop." in text
    assert "2 not run yet" in text and "*GAN* (published)" in text and "### All runs" not in text
    links = [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert links and all(link.startswith("../docs/images/tiny/") for link in links)
    assert all((results.parent / link).is_file() for link in links)

    publish(out, results, images_root=docs)
    again = results.read_text(encoding="utf-8")
    assert again.count("<!-- bench:tiny:start -->") == 1 and "Run on a laptop." not in again
    assert "## Older section\n\nkept" in again
    assert "<!-- bench:tiny:end -->\n\n## Older section" in text and "<!-- bench:tiny:end -->\n\n## Older section" in again

    publish(out, results, images_root=docs, all_runs=True)  # with every run's values, seed by seed
    runs = results.read_text(encoding="utf-8").split("### All runs", 1)[1].split("<!-- bench:tiny:end -->")[0]
    assert "| gan | 0 | completed |" in runs and "| lsgan | 0 | missing |" in runs
