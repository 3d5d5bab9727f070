"""The bench evaluates through ``ganzoo eval``'s function: its recorded seed reproduces its numbers exactly."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ganzoo.bench.runner import BenchOptions, run_bench
from ganzoo.cli import cli

SUITE = """
name = "repro"
description = "one tiny run on ring8"
seeds = 1
steps = 150
metrics = ["modes", "high_quality", "reverse_kl"]
dataset = "ring8"
arch = "mlp"
set = { "train.log_every" = 10, "train.checkpoint_every" = 0, "train.sample_every" = 0, "arch.hidden" = 32, "arch.latent_dim" = 4, "run.batch_size" = 64, "dataset.size" = 500, "train.lr_g" = 1e-3, "train.lr_d" = 1e-3 }

[[variants]]
name = "gan"
loss = "ns-gan"
"""


def test_ganzoo_eval_with_the_recorded_seed_reproduces_the_bench_exactly(tmp_path: Path) -> None:
    suite = tmp_path / "repro.toml"
    suite.write_text(SUITE, encoding="utf-8")
    out = tmp_path / "out"
    assert run_bench(BenchOptions(suite=suite, out=out, workers=1, quiet=True, report=False)).ran == 1
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert run["status"] == "completed"
    ev = run["eval"]
    assert ev["seed"] == 0 and ev["num_samples"] is None  # the protocol's count ...
    assert {m["num_generated"] for m in ev["metrics"].values()} == {2500}  # ... recorded per value
    res = CliRunner().invoke(cli, ["eval", str(out / run["run_dir"]), "--metrics", "modes", "--seed", str(ev["seed"]),
                                   "--json", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    values = json.loads(res.stdout)["values"]
    assert set(values) == {"modes", "high_quality", "reverse_kl"}
    assert run["metrics"]["modes"] > 0  # a few covered modes: the numbers below are not trivially 0
    for name, value in run["metrics"].items():
        if value is None:  # no high-quality sample: eval says inf, the bench leaves it out and says why
            assert name == "reverse_kl" and values[name] == float("inf") and values["high_quality"] == 0.0
            assert ev["notes"] == {"reverse_kl": "no high-quality samples"}
        else:
            assert values[name] == value, name  # exactly: the same function, source, seed and sample count
