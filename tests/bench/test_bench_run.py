"""End to end: a tiny suite runs, reports, resumes after a kill, and survives a failing variant."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
import subprocess
import time
from pathlib import Path

import pytest

from ganzoo.bench.runner import BenchOptions, run_bench
from tests.bench.conftest import DIVERGING, ENV, bench_cmd, run_bench_cli, write_suite


def _checkpoint_mtimes(out: Path) -> dict[str, float]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.glob("runs/*/seed-*/checkpoints/*.pt")}


def _records(out: Path) -> dict[str, dict]:
    return {f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text()) for p in out.glob("runs/*/seed-*/bench.json")}


def test_tiny_suite_writes_every_report_file_and_resumes_for_free(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    out = tmp_path / "out"
    outcome = run_bench(BenchOptions(suite=suite, out=out, workers=2, quiet=True))
    assert not outcome.interrupted and outcome.ran == 4 and outcome.failed == 0
    for name in ("suite.toml", "protocol.json", "results.json", "results.csv", "report.md", "report.html"):
        assert (out / name).is_file(), name

    res = json.loads((out / "results.json").read_text())
    assert len(res["runs"]) == 4 and {r["status"] for r in res["runs"]} == {"completed"}
    for r in res["runs"]:
        assert set(r["metrics"]) == {"modes", "high_quality", "reverse_kl"}
        assert 0 <= r["metrics"]["modes"] <= 8 and r["wall_time"] > 0 and r["img_per_s"] > 0
        assert (out / r["run_dir"] / "config.toml").is_file()
    variants = {v["variant"]: v for v in res["variants"]}
    assert set(variants) == {"gan", "lsgan"}
    for v in variants.values():
        assert v["completed"] == 2 and v["metrics"]["modes"]["n"] == 2
        m = v["metrics"]["high_quality"]
        assert m["mean"] == pytest.approx(sum(m["values"]) / 2) and m["std"] is not None
        assert v["wall_time"]["mean"] > 0 and v["rank"] in (1, 2)
    assert res["published"][0]["model"] == "GAN" and res["failures"] == []

    rows = list(csv.DictReader((out / "results.csv").open()))
    assert sorted((r["row"], r["variant"]) for r in rows) == sorted(
        [("run", "gan"), ("run", "gan"), ("run", "lsgan"), ("run", "lsgan"), ("mean", "gan"), ("mean", "lsgan"),
         ("reference", "real data"), ("reference", "chance")])
    assert all(r["modes"] != "" for r in rows) and all(r["modes_std"] != "" for r in rows if r["row"] == "mean")
    assert all(r["modes_ci_low"] != "" and float(r["modes_ci_low"]) <= float(r["modes"]) for r in rows if r["row"] == "mean")

    # reference rows: the real ring8 data through the same mode metrics covers every mode with high quality
    # (P(r < 3 std) = 1 - exp(-4.5) = 98.9 % for a 2D Gaussian); uniform noise over the box rarely lands near a centre
    real, chance = res["references"]["ring8"]
    assert real["kind"] == "real" and real["metrics"]["modes"] == 8 and real["metrics"]["high_quality"] > 0.97
    assert chance["kind"] == "chance" and chance["metrics"]["high_quality"] < 0.05
    assert real["metrics"]["reverse_kl"] < chance["metrics"]["reverse_kl"]
    assert (out / "references.json").is_file() and "2,500 points of the training set itself" in (out / "report.md").read_text()
    walls = {(r["variant"], r["seed"]): r["wall_time"] for r in res["runs"]}

    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and 'src="figures/' not in html
    assert "Published results" in html and "VEEGAN Table 1" in html and "lsgan" in html
    md = (out / "report.md").read_text()
    assert "| # | variant |" in md and "(published)" in md and "figures/metrics-ring8.png" in md
    protocol = json.loads((out / "protocol.json").read_text())
    assert protocol["seeds"] == [0, 1] and protocol["variants"][0]["config"]["arch"]["hidden"] == 16

    before = _checkpoint_mtimes(out)
    refs_mtime = (out / "references.json").stat().st_mtime_ns
    again = run_bench(BenchOptions(suite=suite, out=out, workers=2, quiet=True))
    assert again.ran == 0 and again.skipped == 4
    assert _checkpoint_mtimes(out) == before
    rerun = json.loads((out / "results.json").read_text())
    assert {(r["variant"], r["seed"]): r["wall_time"] for r in rerun["runs"]} == walls  # the runs' own times, not this rerun's
    assert rerun["runs_wall_time"] == pytest.approx(sum(walls.values())) and rerun["runs_wall_time"] > rerun["wall_time"]
    assert (out / "references.json").stat().st_mtime_ns == refs_mtime and rerun["references"] == res["references"]

    more = run_bench(BenchOptions(suite=suite, out=out, workers=2, seeds=3, quiet=True))
    assert more.ran == 2 and more.skipped == 4
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 6
    assert {k: v for k, v in _checkpoint_mtimes(out).items() if k in before} == before


def test_a_failing_variant_is_reported_and_the_rest_complete(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, extra=DIVERGING)
    out = tmp_path / "out"
    r = run_bench_cli("--suite", str(suite), "--out", str(out), "--workers", "2", "--quiet")
    assert r.returncode == 1, r.stderr
    assert "4 run(s) failed" in r.stderr and "Traceback" not in r.stderr
    res = json.loads((out / "results.json").read_text())
    status = {(x["variant"], x["seed"]): x["status"] for x in res["runs"]}
    assert sorted(k for k, v in status.items() if v != "completed") == [
        ("badpack", 0), ("badpack", 1), ("diverges", 0), ("diverges", 1)]
    assert {f["variant"] for f in res["failures"]} == {"diverges", "badpack"}
    errors = {f["variant"]: f["error"] for f in res["failures"]}
    assert "NaN" in errors["diverges"] and "not divisible by the pack size 3" in errors["badpack"]
    html = (out / "report.html").read_text()
    assert 'id="failures"' in html and "NaN" in html and "pack size 3" in html
    assert "## Failures" in (out / "report.md").read_text()


def test_a_figure_that_cannot_be_drawn_is_named_and_the_rest_of_the_report_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ganzoo.bench import plots

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("no loss curves today")

    suite = write_suite(tmp_path, steps=20)
    out = tmp_path / "out"
    assert run_bench(BenchOptions(suite=suite, out=out, workers=2, quiet=True)).ran == 4
    assert (out / "figures" / "losses-ring8.png").is_file()

    monkeypatch.setattr(plots, "loss_figure", broken)
    log = io.StringIO()
    outcome = run_bench(BenchOptions(suite=suite, out=out, workers=2, quiet=True, stream=log))
    assert outcome.skipped == 4 and outcome.failed == 0
    assert "warning: figure not drawn: losses-ring8: RuntimeError: no loss curves today" in log.getvalue()
    md = (out / "report.md").read_text()
    assert "## Figures not drawn" in md and "- losses-ring8: RuntimeError: no loss curves today" in md
    assert "figures/metrics-ring8.png" in md and "figures/losses-ring8.png" not in md
    html = (out / "report.html").read_text()
    assert 'id="figure-problems"' in html and "no loss curves today" in html
    assert (out / "figures" / "samples-ring8.png").is_file() and not (out / "figures" / "losses-ring8.png").exists()
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 4


def test_variants_runs_a_subset_now_and_the_plain_rerun_completes_the_suite(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    out = tmp_path / "out"
    r = run_bench_cli("--suite", str(suite), "--out", str(out), "--workers", "2", "--quiet", "--variants", "ls*")
    assert r.returncode == 0, r.stderr
    assert "2 run(s) of the suite not run yet" in r.stdout
    res = json.loads((out / "results.json").read_text())
    status = {(x["variant"], x["seed"]): x["status"] for x in res["runs"]}
    assert status == {("gan", 0): "missing", ("gan", 1): "missing", ("lsgan", 0): "completed", ("lsgan", 1): "completed"}
    assert "2 not run yet" in (out / "report.md").read_text() and "not run yet" in (out / "report.html").read_text()
    lsgan_ckpts = _checkpoint_mtimes(out)

    rest = run_bench(BenchOptions(suite=suite, out=out, workers=2, quiet=True))
    assert rest.ran == 2 and rest.skipped == 2 and rest.pending == 0
    res = json.loads((out / "results.json").read_text())
    assert {x["status"] for x in res["runs"]} == {"completed"}
    assert {k: v for k, v in _checkpoint_mtimes(out).items() if k in lsgan_ckpts} == lsgan_ckpts
    assert "not run yet" not in (out / "report.md").read_text()


def test_a_variants_pattern_that_matches_nothing_is_a_clear_error(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    r = run_bench_cli("--suite", str(suite), "--out", str(tmp_path / "out"), "--quiet", "--variants", "gan,wgan*")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--variants 'wgan*' matches no variant of suite 'tiny'; its variants: gan, lsgan" in r.stderr
    assert not (tmp_path / "out" / "runs").exists()


def test_a_smoke_run_into_the_folder_of_longer_runs_is_refused_and_loses_nothing(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    out = tmp_path / "out"
    run_bench(BenchOptions(suite=suite, out=out, workers=2, quiet=True, variants=("gan",)))
    before = _checkpoint_mtimes(out)
    r = run_bench_cli("--suite", str(suite), "--out", str(out), "--quiet", "--steps", "10")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "is already at step 30, beyond the 10 steps asked for" in r.stderr and "Use another --out" in r.stderr
    assert _checkpoint_mtimes(out) == before and {x["status"] for x in _records(out).values()} == {"completed"}


def _wait_for(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_resume_after_the_bench_is_killed_trains_only_the_missing_runs(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, steps=1500, ckpt=200)
    out = tmp_path / "out"
    proc = subprocess.Popen(bench_cmd("--suite", str(suite), "--out", str(out), "--workers", "1", "--quiet"),
                            env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: any(r.get("status") == "completed" for r in _records(out).values()), 240, "a finished run")
    finally:
        proc.kill()  # SIGKILL: no chance to clean up; its worker gets SIGTERM from the kernel
        proc.wait()
    _wait_for(lambda: all(r.get("status") != "running" for r in _records(out).values()), 60, "the orphaned worker to stop")
    done = [k for k, r in _records(out).items() if r["status"] == "completed"]
    assert 1 <= len(done) < 4
    finished_ckpts = {k: v for k, v in _checkpoint_mtimes(out).items() if any(k.startswith(f"runs/{d}/") for d in done)}

    r = run_bench_cli("--suite", str(suite), "--out", str(out), "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert f"({len(done)} already done)" in r.stderr
    recs = _records(out)
    assert all(rec["status"] == "completed" for rec in recs.values()) and len(recs) == 4
    assert {k: v for k, v in _checkpoint_mtimes(out).items() if k in finished_ckpts} == finished_ckpts
    for k in done:
        assert recs[k]["attempts"] == 1
    res = json.loads((out / "results.json").read_text())
    assert len(res["runs"]) == 4 and all(x["status"] == "completed" for x in res["runs"])


def test_ctrl_c_stops_cleanly_and_the_rerun_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, steps=2000, ckpt=250)
    out = tmp_path / "out"
    proc = subprocess.Popen(bench_cmd("--suite", str(suite), "--out", str(out), "--workers", "1"),
                            env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: any(out.glob("runs/*/seed-*/checkpoints/*.pt")), 240, "a first checkpoint")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "rerun the same command to resume" in err
    stopped = [k for k, r in _records(out).items() if r["status"] == "interrupted"]
    assert len(stopped) == 1
    assert not (out / "report.html").exists()

    r = run_bench_cli("--suite", str(suite), "--out", str(out), "--workers", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    recs = _records(out)
    assert all(rec["status"] == "completed" and rec["step"] == 2000 for rec in recs.values())
    assert recs[stopped[0]].get("resumed") is True and recs[stopped[0]]["attempts"] == 2


def test_bench_runs_where_fcntl_does_not_exist(tmp_path: Path) -> None:
    """As on Windows: every process of the bench (driver and runs) fails to import fcntl."""
    shadow = tmp_path / "no-fcntl"
    shadow.mkdir()
    (shadow / "fcntl.py").write_text("raise ImportError(\"No module named 'fcntl' (simulated Windows)\")\n")
    suite = write_suite(tmp_path, steps=20)
    out = tmp_path / "out"
    env = {**os.environ, **ENV, "PYTHONPATH": os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run(bench_cmd("--suite", str(suite), "--out", str(out), "--workers", "2", "--quiet"),
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert (out / "report.html").is_file()
    assert {x["status"] for x in json.loads((out / "results.json").read_text())["runs"]} == {"completed"}
    probe = subprocess.run([sys.executable, "-c", "import fcntl"], capture_output=True, text=True, env=env)
    assert "simulated Windows" in probe.stderr  # the shadow module really was in the way


def test_a_second_bench_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    from ganzoo.files import run_dir_lock

    out = tmp_path / "out"
    with run_dir_lock(out, "bench", what="bench output folder"):
        r = run_bench_cli("--suite", str(write_suite(tmp_path)), "--out", str(out), "--quiet")
    assert r.returncode == 2, r.stderr
    assert f"bench output folder {str(out)!r} is in use by `ganzoo bench` (pid {os.getpid()}" in r.stderr
    assert "Traceback" not in r.stderr and not (out / "protocol.json").exists()
