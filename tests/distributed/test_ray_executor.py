"""``ganzoo bench --executor ray`` against a local 2-CPU Ray started by the tests: the same runs, records and
report tables as the local executor; a worker SIGKILLed from outside mid-run is retried by Ray and resumes
from the run's checkpoint; a failing run is recorded as failed; no Ray installed is one clear error."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.bench.runner import BenchOptions, run_bench
from ganzoo.cli import cli
from ganzoo.errors import ConfigError

SUITE = """
name = "tiny-ray"
description = "two tiny variants on ring8"
seeds = 1
steps = 600
metrics = ["modes", "high_quality", "reverse_kl"]
dataset = "ring8"
arch = "mlp"
eval_samples = 1000
set = { "train.log_every" = 50, "train.checkpoint_every" = 50, "train.sample_every" = 0, "arch.hidden" = 32, "arch.latent_dim" = 4, "run.batch_size" = 32, "dataset.size" = 2000, "train.lr_g" = 2e-3, "train.lr_d" = 2e-3 }

[[variants]]
name = "gan"
loss = "ns-gan"

[[variants]]
name = "lsgan"
loss = "lsgan"
"""
BADPACK = """
[[variants]]
name = "badpack"
loss = "ns-gan"
mitigations = ["pacgan"]
set = { "mitigation.pacgan.pack" = 3 }
"""


def _suite(tmp: Path, extra: str = "") -> Path:
    path = tmp / "tiny-ray.toml"
    path.write_text(SUITE + extra, encoding="utf-8")
    return path


def _bench_cli(suite: Path, out: Path, *args: str) -> str:
    """``ganzoo bench`` through the click CLI, in this process (so on the test's Ray); its output."""
    res = CliRunner().invoke(cli, ["bench", "--suite", str(suite), "--out", str(out), "--device", "cpu", "--quiet", *args])
    assert res.exit_code == 0, res.output
    return res.output


def _rows(out: Path) -> dict[str, tuple]:
    res = json.loads((out / "results.json").read_text())
    return {f"{r['variant']}/seed-{r['seed']}": (r["status"], r["metrics"]) for r in res["runs"]}


def _records(out: Path) -> dict[str, dict]:
    return {f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text())
            for p in out.glob("runs/*/seed-*/bench.json")}


def _same_rows(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key][0] == b[key][0] == "completed", key
        assert a[key][1].keys() == b[key][1].keys(), key
        for m, v in a[key][1].items():
            assert b[key][1][m] == pytest.approx(v, rel=1e-6, abs=1e-9), (key, m)


def _same_weights(a: Path, b: Path) -> None:
    import torch

    for key in ("gan/seed-0", "lsgan/seed-0"):
        ca, cb = (torch.load(o / "runs" / key / "checkpoints" / "step-00000600.pt", weights_only=True) for o in (a, b))
        for name, t in ca["generator"].items():
            assert torch.allclose(t, cb["generator"][name], rtol=0, atol=1e-6), (key, name)


def _summary_tables(out: Path) -> list[list[str]]:
    """The report's summary rows without the timing columns (train time, img/s)."""
    md = (out / "report.md").read_text().split("## Summary", 1)[1].split("\n## ", 1)[0]
    return [line.split("|")[1:-3] for line in md.splitlines() if line.startswith("|")]


@pytest.fixture(scope="module")
def local_out(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("local")
    out = tmp / "out"
    assert "(2 runs executed, 0 reused" in _bench_cli(_suite(tmp), out, "--workers", "2")
    return out


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray with 2 CPUs, started here (Ray is installed in CI: the `ray` extra; no skip)."""
    import ray

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the Ray workers
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _kill_once_after_a_checkpoint(run_dir: Path, killed: list[int], stop: threading.Event) -> None:
    """From outside the bench: SIGKILL the process running ``run_dir`` (the pid in its bench.json) once it
    has written a checkpoint, as the OOM killer or a lost node would."""
    while not stop.is_set() and not killed:
        rec = json.loads((run_dir / "bench.json").read_text()) if (run_dir / "bench.json").is_file() else {}
        if rec.get("status") == "running" and any((run_dir / "checkpoints").glob("step-*.pt")):
            os.kill(rec["pid"], signal.SIGKILL)
            killed.append(rec["pid"])
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_matches_local_and_a_killed_worker_is_retried_and_resumes(tmp_path, local_out, ray_cluster):
    out = tmp_path / "out"
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_once_after_a_checkpoint, args=(out / "runs" / "gan" / "seed-0", killed, stop))
    killer.start()
    try:  # the acceptance: `ganzoo bench --executor ray` on a local Ray completes a two-variant suite
        output = _bench_cli(_suite(tmp_path), out, "--executor", "ray")
    finally:
        stop.set()
        killer.join()
    assert killed, "the run finished before it could be killed"
    assert "(2 runs executed, 0 reused" in output and "run(s) failed" not in output
    rec = _records(out)
    assert rec["gan/seed-0"]["attempts"] == 2 and rec["gan/seed-0"].get("resumed") is True
    assert rec["gan/seed-0"]["pid"] != killed[0] and rec["lsgan/seed-0"]["attempts"] == 1
    log = (out / "runs" / "gan" / "seed-0" / "bench.log").read_text()
    assert "bench attempt 1: fresh" in log and "bench attempt 2: resume" in log
    # Same runs, metric values, weights and report tables as the local executor (training and evaluation
    # are deterministic on CPU), the killed and resumed run included.
    _same_rows(_rows(local_out), _rows(out))
    _same_weights(local_out, out)
    assert _summary_tables(local_out) == _summary_tables(out)
    assert not list(out.glob("runs/.ganzoo-ray-*"))
    # Resumable like a local bench: a second invocation reuses every run.
    assert "(0 runs executed, 2 reused" in _bench_cli(_suite(tmp_path), out, "--executor", "ray")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_cli_runs_a_failing_variant_as_failed_without_retries(tmp_path, ray_cluster):
    suite = _suite(tmp_path, extra=BADPACK)
    out = tmp_path / "out"
    outcome = run_bench(BenchOptions(suite=suite, out=out, device="cpu", quiet=True, executor="ray", workers=1,
                                     variants=("badpack",)))
    assert outcome.failed == 1 and outcome.pending == 2
    rec = _records(out)["badpack/seed-0"]
    assert rec["status"] == "failed" and rec["attempts"] == 1 and "not divisible by the pack size 3" in rec["error"]
    assert "## Failures" in (out / "report.md").read_text()


def test_ray_executor_without_ray_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'ganzoo\[ray\]'"):
        run_bench(BenchOptions(suite=_suite(tmp_path), out=tmp_path / "out", quiet=True, executor="ray"))

    res = CliRunner().invoke(cli, ["bench", "--suite", str(_suite(tmp_path)), "--out", str(tmp_path / "o2"),
                                   "--executor", "ray", "--quiet"])
    assert res.exit_code != 0
    assert "--executor ray needs Ray" in res.output and "pip install 'ganzoo[ray]'" in res.output
    assert "Traceback" not in res.output


def test_ray_device_plan_comes_from_the_cluster_resources(monkeypatch):
    from ganzoo.bench import executor as rx

    class FakeRay:
        def __init__(self, nodes):
            self._nodes = nodes

        def nodes(self):
            return [{"Alive": True, "Resources": r} for r in self._nodes] + [{"Alive": False, "Resources": {"GPU": 8}}]

    gpu_cluster = FakeRay([{"CPU": 32, "GPU": 4}, {"CPU": 32, "GPU": 4}])
    monkeypatch.setattr(rx, "connect", lambda address=None: gpu_cluster)
    assert rx.ray_plan("auto", None, 20) == ("cuda", 8, 8)  # one GPU and its share of CPUs per run
    assert rx.ray_plan("auto", None, 3) == ("cuda", 3, 8)
    assert rx.ray_plan("cpu", None, 4) == ("cpu", 4, 16)  # 64 CPUs / 4 runs, at most one node's 32
    cpu_cluster = FakeRay([{"CPU": 16}, {"CPU": 16}])
    monkeypatch.setattr(rx, "connect", lambda address=None: cpu_cluster)
    assert rx.ray_plan("auto", None, 100) == ("cpu", 32, 1)
    assert rx.ray_plan("auto", 4, 100) == ("cpu", 4, 8)
    with pytest.raises(ConfigError, match="the Ray cluster has no GPU"):
        rx.ray_plan("cuda", None, 4)
    # the same plan for this machine (one node): cores split between the runs, at most 32 runs by default on CPU;
    # on CUDA a GPU per run and its share of the cores, fewer where runs share a GPU
    assert rx.plan("cpu", None, 100, [{"CPU": 64, "GPU": 0}], "no GPU", max_workers=32) == ("cpu", 32, 2)
    assert rx.plan("auto", None, 3, [{"CPU": 16, "GPU": 2}], "no GPU", max_workers=32) == ("cuda", 2, 8)
    assert rx.plan("cuda", 4, 10, [{"CPU": 16, "GPU": 2}], "no GPU", max_workers=32) == ("cuda", 4, 4)
    with pytest.raises(ConfigError, match="--device cuda: no CUDA device is available; use --device cpu or auto"):
        rx.plan("cuda", None, 4, [{"CPU": 8, "GPU": 0}], "no CUDA device is available")
    with pytest.raises(ConfigError, match="--workers 0: expected a positive number"):
        rx.plan("cpu", 0, 4, [{"CPU": 8}], "no GPU")
    opts = rx.RayExecutor(None, "cuda", 8).task_options()
    assert opts["num_gpus"] == 1 and opts["num_cpus"] == 8 and opts["max_retries"] >= 1 and not opts["retry_exceptions"]
    opts = rx.RayExecutor(None, "cpu", 2).task_options()
    assert opts["num_gpus"] == 0 and opts["num_cpus"] == 2
