"""Distributed training on the CPU: torchrun with 2 gloo processes, a tiny MLP on ring8.

A DDP run with global batch B must train exactly like one process with batch B (same data, same
latents, gradients averaged over the ranks); a SIGKILLed 2-process run must resume with 2 or 1
processes; the ranks must stay in sync with gradient penalties, R1, unrolling and EMA.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow  # subprocesses under torchrun: 10-40 s each on 2 cores

WORKER = Path(__file__).with_name("ddp_worker.py")
TIMEOUT = 240  # hard limit per subprocess (a loaded 2-core machine needs ~15-40 s per run)

BASE = ["--dataset", "ring8", "--arch", "mlp", "--loss", "ns-gan", "--batch-size", "64", "--seed", "5",
        "--device", "cpu", "--quiet", "--set", "train.tensorboard=false", "--set", "train.log_every=5",
        "--set", "train.sample_every=0", "--set", "train.checkpoint_every=10"]


def _env() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID"):
        env.pop(k, None)
    return env


def _cmd(nproc: int, *args: str) -> list[str]:
    if nproc == 1:
        return [sys.executable, "-m", "ganzoo", *args]
    # --standalone: a local rendezvous on a free port.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "--max-restarts=0", "-m", "ganzoo", *args]


def _run(nproc: int, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(_cmd(nproc, *args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_env(), start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        for pid in [*_children(proc.pid), proc.pid]:  # torchrun's workers run in sessions of their own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        pytest.fail(f"timed out after {TIMEOUT} s:\n{out[-4000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-6000:]


def _ckpt(run_dir: Path, step: int) -> dict:
    return torch.load(run_dir / "checkpoints" / f"step-{step:08d}.pt", map_location="cpu", weights_only=True)


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_ddp_matches_one_process(tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _ok(_run(1, "train", *BASE, "--steps", "20", "--out", str(single)))
    res = _run(2, "train", *BASE, "--steps", "20", "--out", str(ddp))
    _ok(res)
    assert "Run complete at step 20" in res.stdout
    a, b = _ckpt(single, 20), _ckpt(ddp, 20)
    assert _max_diff(a["generator"], b["generator"]) < 1e-5
    assert _max_diff(a["discriminator"], b["discriminator"]) < 1e-5
    assert a["data"] == b["data"]  # the global data position
    assert torch.equal(a["latent_rng"], b["latent_rng"])  # the global latent stream
    # Rank 0 alone wrote the run directory; the logged losses are those of the global batch.
    ra, rb = _rows(single), _rows(ddp)
    assert [r["step"] for r in rb] == [5, 10, 15, 20]
    for x, y in zip(ra, rb):
        assert x["loss_d"] == pytest.approx(y["loss_d"], rel=1e-5)
        assert x["loss_g"] == pytest.approx(y["loss_g"], rel=1e-5)
    assert json.loads((ddp / "status.json").read_text())["status"] == "completed"
    assert (ddp / "samples" / "step-00000020.png").is_file()


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def _start_long_run(run: Path, log: Path) -> tuple[subprocess.Popen, list[int]]:
    """A 2-process run of 100000 steps; returns once it has written a checkpoint."""
    with open(log, "w") as fh:
        proc = subprocess.Popen(_cmd(2, "train", *BASE, "--steps", "100000", "--out", str(run)),
                                stdout=fh, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
    deadline = time.monotonic() + TIMEOUT
    workers: list[int] = []
    try:
        while not list((run / "checkpoints").glob("step-*.pt")):
            assert proc.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.05)
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
    except BaseException:
        for pid in [proc.pid, *_children(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise
    return proc, workers


def _last_checkpoint(run: Path) -> int:
    return max(int(p.stem.split("-")[1]) for p in (run / "checkpoints").glob("step-*.pt"))


def test_ddp_kill_and_resume_with_two_and_one_processes(tmp_path):
    run = tmp_path / "run"
    proc, workers = _start_long_run(run, tmp_path / "train.log")
    # A hard crash: torchrun's process group and both workers (each in a session of its own), no warning.
    os.killpg(proc.pid, signal.SIGKILL)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    target = _last_checkpoint(run) + 20

    shutil.copytree(run, tmp_path / "run1")
    res = _run(2, "resume", str(run), "--steps", str(target))
    _ok(res)
    assert f"Run complete at step {target}" in res.stdout
    _ok(_run(1, "resume", str(tmp_path / "run1"), "--steps", str(target)))
    # The same training as one uninterrupted process.
    ref = tmp_path / "ref"
    _ok(_run(1, "train", *BASE, "--steps", str(target), "--out", str(ref)))
    r2, r1, r0 = _ckpt(run, target), _ckpt(tmp_path / "run1", target), _ckpt(ref, target)
    for key in ("generator", "discriminator"):
        assert _max_diff(r2[key], r1[key]) < 1e-5, key
        assert _max_diff(r2[key], r0[key]) < 1e-5, key
    assert r2["data"] == r0["data"]
    steps = [r["step"] for r in _rows(run)]
    assert steps == sorted(set(steps)) and steps[-1] == target  # rows logged after the checkpoint were dropped


def test_workers_stop_with_a_checkpoint_when_torchrun_is_killed(tmp_path):
    """torchrun's workers live in sessions of their own: killing its process group must not leave
    them training as orphans. They get SIGTERM (PR_SET_PDEATHSIG), agree to stop, checkpoint, exit."""
    run = tmp_path / "run"
    proc, workers = _start_long_run(run, tmp_path / "train.log")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in workers if _alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "workers kept running after torchrun died"
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted", (status, (tmp_path / "train.log").read_text()[-4000:])
    assert _last_checkpoint(run) == status["step"]


def _worker_run(tmp_path: Path, name: str, user: dict, nproc: int) -> list[dict]:
    out = tmp_path / name
    if nproc == 1:
        cmd = [sys.executable, str(WORKER), str(out), json.dumps(user)]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "--max-restarts=0", str(WORKER), str(out), json.dumps(user)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=TIMEOUT)
    assert res.returncode == 0, (res.stdout + res.stderr)[-6000:]
    return [torch.load(out / f"rank-{r}.pt", weights_only=False) for r in range(nproc)]


def test_ddp_penalties_unrolled_ema_keep_ranks_in_sync(tmp_path):
    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": "wgan-gp", "mitigations": ["r1", "unrolled"],
                    "steps": 4, "batch_size": 32, "seed": 1, "device": "cpu"},
            "train": {"n_critic": 2, "ema": True, "checkpoint_every": 2, "log_every": 2, "tensorboard": False,
                      "sample_every": 0},
            "mitigation": {"unrolled": {"steps": 2}}}
    r0, r1 = _worker_run(tmp_path, "gp", user, 2)
    assert r0["status"] == r1["status"] == "completed"
    assert r0["g_train"] == r0["d_train"] == "DistributedDataParallel"
    for key in ("G", "D", "ema"):
        assert _max_diff(r0[key], r1[key]) == 0.0, key


def test_ddp_r1_and_ema_match_one_process(tmp_path):
    """R1 differentiates D w.r.t. its input through the DDP module (create_graph): still exact."""
    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "mitigations": ["r1"], "steps": 6,
                    "batch_size": 32, "seed": 2, "device": "cpu"},
            "train": {"n_critic": 2, "ema": True, "ema_decay": 0.9, "checkpoint_every": 3, "log_every": 3,
                      "tensorboard": False, "sample_every": 0}}
    (one,) = _worker_run(tmp_path, "one", user, 1)
    two, _ = _worker_run(tmp_path, "two", user, 2)
    for key in ("G", "D", "ema"):
        assert _max_diff(one[key], two[key]) < 1e-5, key


def test_sync_batchnorm_on_cpu_is_a_clear_error(tmp_path):
    res = _run(2, "train", *BASE, "--steps", "2", "--batch-size", "32", "--set", "arch.g_batch_norm=true",
               "--set", "train.sync_batchnorm=true", "--out", str(tmp_path / "bn"))
    assert res.returncode != 0
    assert "train.sync_batchnorm=true needs GPUs" in res.stdout, res.stdout[-4000:]


def test_global_batch_must_divide_over_processes(tmp_path):
    res = _run(2, "train", *BASE, "--steps", "2", "--batch-size", "33", "--out", str(tmp_path / "odd"))
    assert res.returncode != 0
    assert "must divide evenly over the 2 processes" in res.stdout, res.stdout[-4000:]


def test_nproc_flag_relaunches_under_torchrun(tmp_path):
    out = tmp_path / "run"
    res = _run(1, "train", *BASE, "--steps", "10", "--nproc", "2", "--out", str(out))
    _ok(res)
    assert (out / "checkpoints" / "step-00000010.pt").is_file()
    assert "Run complete at step 10" in res.stdout


def test_importing_ganzoo_imports_neither_ray_nor_torch_distributed_run():
    code = ("import sys, ganzoo, ganzoo.cli, ganzoo.bench.runner, ganzoo.bench.executor, ganzoo.distributed.context;"
            "bad = [m for m in ('ray', 'torch.distributed.run') if m in sys.modules]; assert not bad, bad")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert res.returncode == 0, res.stderr


def test_leave_worker_flushes_output_and_exits_with_its_code(tmp_path):
    """A worker ends through os._exit: buffered output must still arrive, with the code given."""
    code = ("import sys; from ganzoo.distributed.context import leave_worker;"
            "sys.stdout.write('saved'); sys.stderr.write('warned'); leave_worker(3); print('unreachable')")
    env = {k: v for k, v in _env().items() if k != "PYTHONUNBUFFERED"}  # piped output is buffered
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 3
    assert res.stdout == "saved"
    assert res.stderr == "warned"
