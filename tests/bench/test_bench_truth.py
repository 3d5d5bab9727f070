"""Issue 17, "the main job tells the truth": confidence intervals, no winner named within noise, reference
rows, recorded run times, an honest progress bar and TensorBoard hparams (no training: synthetic results
and hand-made run directories)."""

from __future__ import annotations

import io
import json
import math
import statistics
from pathlib import Path

import pytest
import torch

from ganzoo.metrics.real_and_chance import ReferenceRow
from ganzoo.bench.report import _highlight, render, report_model
from ganzoo.bench.results import BenchResults, VariantResult, collect, csv_text, results_dict
from ganzoo.stats import Stat, mean_ci, welch_p
from ganzoo.bench.suite import SuiteError, expand_runs, parse_suite_text
from tests.bench.conftest import TINY

SUITE = TINY.format(steps=30, ckpt=0, extra="")


# ----------------------------------------------------------------------------- the statistics


@pytest.mark.parametrize("df, t", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (29, 2.0452), (1000, 1.9623)])
def test_the_t_quantile_matches_the_printed_tables(df: int, t: float) -> None:
    values = [float(i % 2) for i in range(df + 1)]  # n = df + 1 values: the interval's half-width is t · s / √n
    lo, hi = mean_ci(values)
    assert (hi - lo) / 2 / (statistics.stdev(values) / math.sqrt(len(values))) == pytest.approx(t, abs=1e-4)


def test_the_interval_and_welch_test_match_hand_computations() -> None:
    lo, hi = mean_ci([7.0, 8.0, 9.0])  # mean 8, s 1, n 3: 8 ± 4.3027 / √3
    assert (lo, hi) == pytest.approx((8 - 4.302653 / math.sqrt(3), 8 + 4.302653 / math.sqrt(3)), abs=1e-5)
    assert mean_ci([3.0]) is None
    # Welch: t = -3 / √(2/3), df = 4: two-sided p = 0.021312 (R: t.test(c(1,2,3), c(4,5,6)))
    assert welch_p([1, 2, 3], [4, 5, 6]) == pytest.approx(0.0213116, abs=1e-6)
    assert welch_p([8, 8], [8, 8]) == 1.0 and welch_p([8, 8], [7, 7]) == 0.0
    assert welch_p([1.0], [2.0, 3.0]) is None


def test_the_statistics_agree_with_scipy_where_it_is_installed() -> None:
    sp = pytest.importorskip("scipy.stats")
    a, b = [0.91, 0.87, 0.95, 0.89], [0.82, 0.9, 0.78]
    assert welch_p(a, b) == pytest.approx(sp.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-6)
    for xs in (a, b, [1.5, 2.5, 2.0, 3.5, 1.0, 2.25, 0.75, 4.0], [float(i * i) for i in range(41)]):
        mean, sem = sum(xs) / len(xs), sp.sem(xs)
        assert mean_ci(xs) == pytest.approx(sp.t.interval(0.95, len(xs) - 1, loc=mean, scale=sem), rel=1e-7)


# ----------------------------------------------------------------------------- the report, from synthetic results


def _results(values: dict[str, list[float]], references: bool = True) -> BenchResults:
    """Results of the tiny suite with these per-seed ``modes`` (high quality: modes / 10)."""
    suite = parse_suite_text(SUITE, source="tiny.toml")
    variants = []
    for v in suite.variants:
        xs = values[v.name]
        runs = [{"variant": v.name, "dataset": "ring8", "seed": i, "status": "completed", "steps": 30, "wall_time": 10.0 + i,
                 "img_per_s": 500.0, "seconds": 12.0, "metrics": {"modes": x, "high_quality": x / 10}, "run_dir": f"runs/{v.name}/seed-{i}",
                 "error": None, "error_type": None, "eval": {"seconds": 1.0}} for i, x in enumerate(xs)]
        vr = VariantResult(v.name, v.dataset, v.arch, v.loss, v.mitigations, v.components, v.metrics, runs)
        vr.stats = {"modes": Stat.of(xs), "high_quality": Stat.of([x / 10 for x in xs]), "reverse_kl": Stat.of([]),
                    "wall_time": Stat.of([r["wall_time"] for r in runs]), "img_per_s": Stat.of([500.0] * len(xs))}
        variants.append(vr)
    variants.sort(key=lambda v: -v.stats["modes"].mean)
    for i, v in enumerate(variants):
        v.rank = i + 1
    res = BenchResults(suite, {"variants": []}, variants)
    if references:
        res.references = {"ring8": [ReferenceRow("real", "real data", "2,500 points of the training set itself",
                                                 {"modes": 8.0, "high_quality": 0.9884, "reverse_kl": 0.0046}),
                                    ReferenceRow("chance", "chance", "2,500 points uniform over the box",
                                                 {"modes": 7.0, "high_quality": 0.0052, "reverse_kl": 0.1946})]}
    return res


META = {"generated": "now", "version": "x", "device": "cpu", "completed": 0, "total": 0, "failed": 0, "pending": 0,
        "seeds": "0, 1, 2", "n_seeds": 3, "wall": "1s", "compute": "1s", "command": "ganzoo bench", "eval_protocol": "",
        "workers": 1, "threads": 1, "figure_problems": []}


def _md(res: BenchResults) -> str:
    return render("report.md", report_model(res, [], dict(META), {v.name: "#000" for v in res.variants}, {}))


def _html(res: BenchResults) -> str:
    return render("report.html", report_model(res, [], dict(META), {v.name: "#000" for v in res.variants}, {}))


def test_confidence_intervals_reach_the_tables_and_the_results_files() -> None:
    res = _results({"gan": [7.0, 8.0, 9.0], "lsgan": [6.5, 7.5, 8.5]})
    gan = next(v for v in res.variants if v.name == "gan")
    half = 4.302653 / math.sqrt(3)
    assert (gan.stats["modes"].ci_low, gan.stats["modes"].ci_high) == pytest.approx((8 - half, 8 + half), abs=1e-5)
    md = _md(res)
    assert "| 1 | gan | mlp · ns-gan | 8 [5.52, 10.5] |" in md
    assert "Student-t 95 % interval" in md and "n = 1, no interval" in md
    data = results_dict(res)
    assert data["variants"][0]["metrics"]["modes"]["ci95"] == pytest.approx([8 - half, 8 + half], abs=1e-5)
    assert "Student-t" in data["confidence"]["interval"] and "Welch" in data["confidence"]["test"]
    header, gan_mean = None, None
    for line in csv_text(res).splitlines():
        cells = line.split(",")
        header = header or cells
        if cells[0] == "mean" and cells[1] == "gan":
            gan_mean = dict(zip(header, cells))
    assert float(gan_mean["modes_ci_low"]) == pytest.approx(8 - half, rel=1e-5)
    assert float(gan_mean["modes_ci_high"]) == pytest.approx(8 + half, rel=1e-5)


def test_two_variants_within_noise_get_no_winner_and_no_bold() -> None:
    res = _results({"gan": [7.0, 8.0, 9.0], "lsgan": [6.5, 7.5, 8.5]})
    c = res.compare("ring8")
    assert c.best == "gan" and c.runner_up == "lsgan" and c.p == pytest.approx(0.5734, abs=1e-3) and not c.significant
    line = _highlight(res, "ring8", res.by_dataset()["ring8"])
    assert line.startswith("ring8: no variant is distinguishable from gan at 95 % on modes (runner-up lsgan: p = 0.57)")
    assert "best gan" not in line
    md = _md(res)
    summary = md.split("## Summary")[1].split("## ")[0]
    assert "**" not in summary
    assert 'class="num best"' not in _html(res)
    assert results_dict(res)["comparisons"][0]["distinguishable"] is False


def test_clearly_separated_variants_name_the_winner_in_bold() -> None:
    res = _results({"gan": [7.9, 8.0, 8.0], "lsgan": [2.0, 1.0, 1.5]})
    c = res.compare("ring8")
    # Welch: t = 6.4667 / √(0.00333/3 + 0.25/3) = 22.25 on 2.05 degrees of freedom
    assert c.best == "gan" and c.significant and c.p == pytest.approx(0.00177, abs=2e-5)
    line = _highlight(res, "ring8", res.by_dataset()["ring8"])
    assert line.startswith("ring8: best gan: modes 7.97 [7.82, 8.11]") and "distinguishable from the runner-up lsgan" in line
    assert "(Welch's t-test p = 0.002)" in line
    assert "| 1 | gan | mlp · ns-gan | **7.97 [7.82, 8.11]** | **79.7 [78.2, 81.1]** |" in _md(res)
    assert 'class="num best"' in _html(res)


def test_one_seed_gives_no_interval_and_names_no_winner() -> None:
    res = _results({"gan": [8.0], "lsgan": [1.0]})
    md = _md(res)
    assert "| 1 | gan | mlp · ns-gan | 8 (n = 1) |" in md
    assert "no variant is distinguishable from gan at 95 % on modes (runner-up lsgan: not testable with one seed)" in md
    assert results_dict(res)["variants"][0]["metrics"]["modes"]["ci95"] is None


def test_reference_rows_are_grey_unranked_rows_in_both_reports_and_the_files() -> None:
    res = _results({"gan": [7.0, 8.0, 9.0], "lsgan": [6.5, 7.5, 8.5]})
    md = _md(res)
    assert "|  | *real data* (reference) | *2,500 points of the training set itself* | *8* | *98.8* | *0.005* |" in md
    assert "|  | *chance* (reference) | *2,500 points uniform over the box* | *7* | *0.5* | *0.195* |" in md
    html = _html(res)
    assert html.count('<tr class="ref">') == 2 and "real data" in html and "tr.ref td" in html
    data = results_dict(res)
    assert data["references"]["ring8"][0]["metrics"]["modes"] == 8.0
    refs = [line for line in csv_text(res).splitlines() if line.startswith("reference,")]
    assert len(refs) == 2 and refs[0].startswith("reference,real data,ring8,")


# ----------------------------------------------------------------------------- recorded times


def test_results_carry_the_wall_time_recorded_in_the_run_directory(tmp_path: Path) -> None:
    """A run reused (or only re-evaluated) by a later invocation keeps the training time of the run itself."""
    from ganzoo.bench.worker import write_record
    from ganzoo.rundir import write_status

    suite = parse_suite_text(SUITE, source="tiny.toml")
    specs = expand_runs(suite, tmp_path, device="cpu")
    for i, spec in enumerate(specs):
        spec.run_dir.mkdir(parents=True)
        write_record(spec.run_dir, {"variant": spec.variant, "seed": spec.seed, "fingerprint": spec.fingerprint, "status": "completed",
                                    "steps": 30, "wall_time": 0.0, "seconds": 0.1, "metrics": {"modes": 8.0}})
        write_status(spec.run_dir, "completed", 30, wall_time=100.0 + i)
        rows = [{"step": 10, "img_per_s": 1000.0, "wall_time": 30.0 + i}, {"step": 30, "img_per_s": 3000.0, "wall_time": 90.0 + i}]
        (spec.run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (specs[0].run_dir / "status.json").unlink()  # no status: the last metrics row's wall time
    res = collect(suite, specs, tmp_path, {})
    times = {(r["variant"], r["seed"]): r["wall_time"] for r in res.runs}
    assert times == {("gan", 0): 90.0, ("lsgan", 0): 101.0, ("gan", 1): 102.0, ("lsgan", 1): 103.0}
    assert all(r["img_per_s"] == 2000.0 for r in res.runs)
    assert res.runs_wall_time == pytest.approx(396.0) and results_dict(res)["runs_wall_time"] == pytest.approx(396.0)


# ----------------------------------------------------------------------------- progress


def test_progress_counts_finished_runs_only_and_its_bar_has_no_stray_comma(tmp_path: Path) -> None:
    from ganzoo.bench.runner import Progress

    suite = parse_suite_text(SUITE, source="tiny.toml")
    specs = expand_runs(suite, tmp_path, device="cpu")[:3]
    out = io.StringIO()
    p = Progress(specs, {s.key: 1.0 for s in specs}, stream=out, title="bench tiny")
    p.on_done(specs[0], {"status": "completed", "seconds": 3, "metrics": {"modes": 8.0}})
    p.on_done(specs[1], {"status": "interrupted", "step": 12})
    assert (p.done, p.stopped, p.bar.n) == (1, 1, p.units[specs[0].key])
    p.on_done(specs[2], {"status": "failed", "seconds": 1, "error": "boom"})
    p.close()
    text = out.getvalue()
    assert "[1/3] ok      gan/seed-0" in text and "stopped lsgan/seed-0 at step 12 (not done: rerun to resume)" in text
    assert "[2/3] stopped" not in text and "[2/3] FAILED  gan/seed-1 (1s): boom" in text
    bars = [chunk for chunk in text.replace("\n", "\r").split("\r") if "%|" in chunk]
    assert bars and bars[-1].startswith("bench tiny 2/3 runs · 1 failed · 1 stopped")
    assert all("," not in b for b in bars), bars


# ----------------------------------------------------------------------------- TensorBoard


def test_a_bench_run_logs_its_hyperparameters_and_metrics_to_tensorboard(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ganzoo import config as config_mod
    from ganzoo.bench.worker import log_to_tensorboard
    from ganzoo.rundir import write_run_config

    suite = parse_suite_text(SUITE.replace('"dataset.size" = 2000', '"dataset.size" = 2000, "train.tensorboard" = true'),
                             source="tiny.toml")
    out = tmp_path / "bench-out" / "tiny"
    spec = expand_runs(suite, out, device="cpu")[1]
    spec.run_dir.mkdir(parents=True)
    (out / "protocol.json").write_text(json.dumps({"suite": {"name": "tiny"}}))
    write_run_config(spec.run_dir, config_mod.resolve(spec.user))
    assert log_to_tensorboard(spec, {"modes": 7.0, "high_quality": 0.5})
    ea = EventAccumulator(str(spec.run_dir / "tb"), size_guidance={"tensors": 0, "scalars": 0}).Reload()
    assert [e.value for e in ea.Scalars("bench/modes")] == [7.0] and ea.Scalars("bench/modes")[0].step == 30
    assert spec.run_dir.relative_to(out).as_posix() == "runs/lsgan/seed-0"  # TensorBoard's run name: variant/seed
    plugin = ea.PluginTagToContent("hparams")
    from tensorboard.plugins.hparams import plugin_data_pb2

    session = next(plugin_data_pb2.HParamsPluginData.FromString(v).session_start_info for v in plugin.values()
                   if plugin_data_pb2.HParamsPluginData.FromString(v).HasField("session_start_info"))
    hp = {k: (v.string_value or v.number_value) for k, v in session.hparams.items()}
    assert hp["suite"] == "tiny" and hp["variant"] == "lsgan" and hp["run.loss"] == "lsgan" and hp["arch.hidden"] == 16

    off_suite = SUITE.replace('"dataset.size" = 2000', '"dataset.size" = 2000, "train.tensorboard" = false')
    off = expand_runs(parse_suite_text(off_suite, source="tiny.toml"), tmp_path / "off", device="cpu")[0]
    off.run_dir.mkdir(parents=True)
    write_run_config(off.run_dir, config_mod.resolve(off.user))
    assert not log_to_tensorboard(off, {"modes": 7.0}) and not (off.run_dir / "tb").exists()


def test_each_variant_is_tested_against_the_baseline_in_the_highlights_and_results() -> None:
    res = _results({"gan": [1.0, 0.0, 1.0, 2.0, 1.0], "lsgan": [8.0, 8.0, 7.0, 8.0, 8.0]}, references=False)
    res.suite.variant("gan").baseline = True
    (c,) = res.against_baseline("ring8")
    assert (c.variant, c.baseline, c.metric) == ("lsgan", "gan", "modes")
    assert c.difference == pytest.approx(6.8) and c.significant
    assert c.p == pytest.approx(welch_p([8.0, 8.0, 7.0, 8.0, 8.0], [1.0, 0.0, 1.0, 2.0, 1.0]))
    md = _md(res)
    assert "ring8, against the baseline gan at 95 %: lsgan: modes +6.8 (p < 0.001, distinguishable)" in md
    assert results_dict(res)["against_baseline"][0]["distinguishable"] is True
    # Within noise the same sentence says so; a suite without a baseline has none.
    res = _results({"gan": [7.0, 8.0, 9.0], "lsgan": [6.5, 7.5, 8.5]}, references=False)
    assert res.against_baseline("ring8") == [] and "against the baseline" not in _md(res)
    res.suite.variant("lsgan").baseline = True
    assert "gan: modes +0.5 (p = 0.57, not distinguishable)" in _md(res)


def test_two_baselines_of_one_dataset_are_refused() -> None:
    text = SUITE.replace('name = "gan"', 'name = "gan"\nbaseline = true').replace('name = "lsgan"', 'name = "lsgan"\nbaseline = true')
    with pytest.raises(SuiteError, match="both the baseline of dataset 'ring8'"):
        parse_suite_text(text, source="tiny.toml")


def test_variants_with_different_metric_lists_leave_the_missing_cells_empty(tmp_path: Path) -> None:
    """As in the `conditional` suite, where only conditional variants report `cas`: both reports and the CSV
    are written, and the cell of a metric a variant does not report is empty, not an error."""
    from ganzoo.bench.worker import write_record

    text = SUITE.replace('name = "gan"', 'name = "gan"\nmetrics = ["modes", "high_quality"]')
    suite = parse_suite_text(text, source="tiny.toml")
    assert suite.variant("gan").metrics == ("modes", "high_quality") and "reverse_kl" in suite.metrics
    specs = expand_runs(suite, tmp_path, device="cpu")
    for spec in specs:
        spec.run_dir.mkdir(parents=True)
        metrics = {"modes": 8.0, "high_quality": 0.5} | ({"reverse_kl": 0.25} if spec.variant == "lsgan" else {})
        write_record(spec.run_dir, {"variant": spec.variant, "seed": spec.seed, "fingerprint": spec.fingerprint,
                                    "status": "completed", "steps": 30, "wall_time": 1.0, "seconds": 0.1, "metrics": metrics})
    res = collect(suite, specs, tmp_path, {})
    gan = next(v for v in res.variants if v.name == "gan")
    assert gan.mean("reverse_kl") is None and gan.mean("modes") == 8.0
    rows = {name: next(line for line in _md(res).splitlines() if f"| {name} |" in line) for name in ("gan", "lsgan")}
    assert rows["gan"].split("|")[6].strip() == "–" and rows["lsgan"].split("|")[6].strip() == "0.250 [0.250, 0.250]"
    assert "<table" in _html(res)
    assert "reverse_kl" in csv_text(res).splitlines()[0]


def test_image_galleries_reach_both_reports() -> None:
    """Image suites show each variant's sample grid: inline in report.html, as figures/ files in report.md."""
    res = _results({"gan": [7.0, 8.0, 9.0], "lsgan": [6.5, 7.5, 8.5]})
    png = b"\x89PNG\r\n\x1a\n-not-a-real-image"
    galleries = {"ring8": [("real data", "training images", png), ("gan", "seed 0 · rows are classes: red circle, blue square", png)]}
    model = report_model(res, [], dict(META), {v.name: "#000" for v in res.variants}, galleries)
    html, md = render("report.html", model), render("report.md", model)
    assert html.count('<figure><img alt="gan" src="data:image/png;base64,') == 1 and "rows are classes: red circle" in html
    assert "![gan](figures/samples-ring8-1.png)" in md and "*gan: seed 0 · rows are classes: red circle, blue square*" in md
    assert "![real data](figures/samples-ring8-0.png)" in md


def test_a_reference_metric_that_cannot_be_scored_leaves_only_its_cell_empty() -> None:
    """As ``cas`` for real data (no label input): the row keeps the metrics that can be scored and names
    the one that cannot, instead of losing the whole row."""
    from ganzoo.metrics.real_and_chance import _metric_by_metric
    from ganzoo.metrics.sources import GeneratorSource
    from ganzoo.plugins import get_host

    info = get_host().datasets.get("ring8").with_options({}).build(data_root=None, seed=0).info
    centres = torch.tensor([[math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)] for k in range(8)])

    def make() -> GeneratorSource:
        return GeneratorSource(info=info, latent_dim=1, latent_distribution="normal",
                               generate=lambda z, _: centres[torch.arange(len(z)) % 8], dataset_options={})

    score = {"num_samples": 400, "seed": 0}
    row = _metric_by_metric(("modes", "cas"), "real", "real data", "400 points", make, RuntimeError("cas needs labels"), **score)
    assert row.error is None and row.metrics["modes"] == 8 and "cas" not in row.metrics
    assert row.description == "400 points (not scored: cas)"
    row = _metric_by_metric(("cas",), "real", "real data", "400 points", make, RuntimeError("cas needs labels"), **score)
    assert row.error == "RuntimeError: cas needs labels" and not row.metrics
