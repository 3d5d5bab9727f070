"""``ganzoo bench --executor ray``: the same runs, records and report rows as the local executor, on
a local 2-CPU Ray cluster; a task whose worker is SIGKILLed is retried and resumes; runs are copied
back when the workers cannot see the output folder; no Ray installed is one clear error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ganzoo.bench.runner import BenchOptions, run_bench
from ganzoo.errors import ConfigError

SUITE = """
name = "tiny-ray"
description = "two tiny variants on ring8"
seeds = 1
steps = 120
metrics = ["modes", "high_quality", "reverse_kl"]
dataset = "ring8"
arch = "mlp"
eval_samples = 1000
set = { "train.log_every" = 20, "train.checkpoint_every" = 20, "train.sample_every" = 0, "arch.hidden" = 32, "arch.latent_dim" = 4, "run.batch_size" = 32, "dataset.size" = 2000, "train.lr_g" = 2e-3, "train.lr_d" = 2e-3 }

[[variants]]
name = "gan"
loss = "ns-gan"

[[variants]]
name = "lsgan"
loss = "lsgan"
"""


def _suite(tmp: Path) -> Path:
    path = tmp / "tiny-ray.toml"
    path.write_text(SUITE, encoding="utf-8")
    return path


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
        ca, cb = (torch.load(o / "runs" / key / "checkpoints" / "step-00000120.pt", weights_only=True) for o in (a, b))
        for name, t in ca["generator"].items():
            assert torch.allclose(t, cb["generator"][name], rtol=0, atol=1e-6), (key, name)


@pytest.fixture(scope="module")
def local_out(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("local")
    out = tmp / "out"
    outcome = run_bench(BenchOptions(suite=_suite(tmp), out=out, workers=2, device="cpu", quiet=True))
    assert outcome.failed == 0 and outcome.ran == 2
    return out


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_matches_local_and_a_killed_task_is_retried_and_resumes(tmp_path, local_out, ray_cluster, monkeypatch):
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "gan__seed-0.arm").write_text("")  # its first attempt SIGKILLs its worker after a checkpoint
    monkeypatch.setenv("GANZOO_RAY_FAULT_DIR", str(faults))
    out = tmp_path / "out"
    outcome = run_bench(BenchOptions(suite=_suite(tmp_path), out=out, device="cpu", quiet=True, executor="ray"))
    assert not outcome.interrupted and outcome.failed == 0 and outcome.ran == 2
    assert (faults / "gan__seed-0.killed").exists()
    rec = _records(out)
    assert rec["gan/seed-0"]["attempts"] == 2 and rec["gan/seed-0"].get("resumed") is True
    assert rec["lsgan/seed-0"]["attempts"] == 1
    # Same runs and metric values as the local executor (training and evaluation are deterministic on CPU).
    _same_rows(_rows(local_out), _rows(out))
    _same_weights(local_out, out)  # the killed and resumed run included
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert not list(out.glob("runs/**/.ganzoo-ray-*")) and not list(out.glob("runs/.ganzoo-ray-*"))
    # Resumable like a local bench: a second invocation reuses every run.
    again = run_bench(BenchOptions(suite=_suite(tmp_path), out=out, device="cpu", quiet=True, executor="ray"))
    assert again.ran == 0 and again.skipped == 2


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_copies_runs_back_when_workers_cannot_see_the_output(tmp_path, local_out, ray_cluster, monkeypatch):
    monkeypatch.setenv("GANZOO_RAY_FORCE_COPY", "1")
    out = tmp_path / "out"
    outcome = run_bench(BenchOptions(suite=_suite(tmp_path), out=out, device="cpu", quiet=True, executor="ray",
                                     workers=1))
    assert outcome.failed == 0 and outcome.ran == 2
    for key in ("gan/seed-0", "lsgan/seed-0"):
        run = out / "runs" / key
        assert (run / "config.toml").is_file() and (run / "checkpoints" / "step-00000120.pt").is_file()
        assert (run / "bench.log").is_file()
    _same_rows(_rows(local_out), _rows(out))
    _same_weights(local_out, out)


def test_ray_executor_without_ray_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'ganzoo\[ray\]'"):
        run_bench(BenchOptions(suite=_suite(tmp_path), out=tmp_path / "out", quiet=True, executor="ray"))

    from click.testing import CliRunner

    from ganzoo.cli import cli

    res = CliRunner().invoke(cli, ["bench", "--suite", str(_suite(tmp_path)), "--out", str(tmp_path / "o2"),
                                   "--executor", "ray", "--quiet"])
    assert res.exit_code != 0
    assert "--executor ray needs Ray" in res.output and "pip install 'ganzoo[ray]'" in res.output
    assert "Traceback" not in res.output


def test_ray_device_plan_comes_from_the_cluster_resources(monkeypatch):
    from ganzoo.bench import ray_executor as rx
    from ganzoo.bench.executor import WorkerSettings

    class FakeRay:
        def __init__(self, nodes):
            self._nodes = nodes

        def nodes(self):
            return [{"Alive": True, "Resources": r} for r in self._nodes] + [{"Alive": False, "Resources": {"GPU": 8}}]

    gpu_cluster = FakeRay([{"CPU": 32, "GPU": 4}, {"CPU": 32, "GPU": 4}])
    monkeypatch.setattr(rx, "connect", lambda address=None: (gpu_cluster, False))
    assert rx.device_plan("auto", None, 20) == ("cuda", 8, 8, [])  # one GPU and its share of CPUs per run
    assert rx.device_plan("auto", None, 3) == ("cuda", 3, 8, [])
    assert rx.device_plan("cpu", None, 4) == ("cpu", 4, 16, [])  # 64 CPUs / 4 runs, at most one node's 32
    cpu_cluster = FakeRay([{"CPU": 16}, {"CPU": 16}])
    monkeypatch.setattr(rx, "connect", lambda address=None: (cpu_cluster, False))
    assert rx.device_plan("auto", None, 100) == ("cpu", 32, 1, [])
    assert rx.device_plan("auto", 4, 100) == ("cpu", 4, 8, [])
    with pytest.raises(ConfigError, match="the Ray cluster has no GPU"):
        rx.device_plan("cuda", None, 4)
    opts = rx.RayPool(None, WorkerSettings(threads=8, device="cuda"))._task_options()
    assert opts["num_gpus"] == 1 and opts["num_cpus"] == 8 and opts["max_retries"] >= 1
    opts = rx.RayPool(None, WorkerSettings(threads=2, device="cpu"))._task_options()
    assert opts["num_gpus"] == 0 and opts["num_cpus"] == 2
