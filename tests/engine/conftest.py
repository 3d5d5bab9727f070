"""Helpers for the engine tests: tiny run configs, checkpoint access, a CLI subprocess with test plugins.

Bit-exact comparisons between runs need the same number of CPU threads on both sides, so every test
here runs torch on one thread (in-process) and subprocesses get ``OMP_NUM_THREADS=1``.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from ganzoo.engine import checkpoint as ckpt

HERE = Path(__file__).resolve().parent
CLI_WITH_TEST_PLUGINS = HERE / "cli_with_test_plugins.py"
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def ring8_user(steps: int, **train: Any) -> dict[str, Any]:
    """A tiny ring8 x mlp run (milliseconds per step) that writes nothing until its end."""
    cfg: dict[str, Any] = {
        "run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "steps": steps, "batch_size": 16,
                "device": "cpu", "seed": 5},
        "dataset": {"size": 200},
        "arch": {"hidden": 16, "latent_dim": 8},
        "train": {"tensorboard": False, "sample_every": 0, "checkpoint_every": 0, "log_every": 5},
    }
    cfg["train"].update(train)
    return cfg


def shapes_user(steps: int, **train: Any) -> dict[str, Any]:
    """A tiny shapes x dcgan run: 16 px, width 8, batch 8 (convolutions and BatchNorm buffers)."""
    cfg: dict[str, Any] = {
        "run": {"dataset": "shapes", "arch": "dcgan", "loss": "ns-gan", "steps": steps, "batch_size": 8,
                "device": "cpu", "seed": 2},
        "dataset": {"resolution": 16, "size": 48},
        "arch": {"width": 8, "latent_dim": 16},
        "train": {"tensorboard": False, "sample_every": 0, "checkpoint_every": 0, "log_every": 5},
    }
    cfg["train"].update(train)
    return cfg


def with_steps(user: dict[str, Any], steps: int) -> dict[str, Any]:
    out = copy.deepcopy(user)
    out["run"]["steps"] = steps
    return out


def final_state(run_dir: Path) -> dict[str, Any]:
    state, _ = ckpt.load_latest(run_dir)
    return state


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str) -> None:
    assert a.keys() == b.keys(), what
    for k in a:
        assert torch.equal(a[k], b[k]), f"{what}: {k} differs (max abs diff {(a[k].float() - b[k].float()).abs().max()})"


def assert_same_weights(a: dict[str, Any], b: dict[str, Any], keys: tuple[str, ...] = ("generator",)) -> None:
    assert a["step"] == b["step"]
    for key in keys:
        assert_same_tensors(a[key], b[key], key)


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GANZOO_TEST_SLEEP", "GANZOO_TEST_DATA_DELAY", "GANZOO_TEST_MP_START")}
    env.update(ONE_THREAD_ENV, MPLBACKEND="Agg", **extra)
    return env


def ganzoo_cmd(*args: str, test_plugins: bool = False) -> list[str]:
    """The ``ganzoo`` command line; with ``test_plugins`` the CLI runs with this folder's test plugins."""
    if test_plugins:
        return [sys.executable, str(CLI_WITH_TEST_PLUGINS), *args]
    return [sys.executable, "-m", "ganzoo", *args]


def run_cli(*args: str, test_plugins: bool = False, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(ganzoo_cmd(*args, test_plugins=test_plugins), capture_output=True, text=True,
                          env=cli_env(**env), timeout=timeout)


def wait_for(predicate: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 180) -> None:
    """Poll ``predicate`` until true; fail with the process's output if it ends or time runs out."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"process ended (rc {proc.returncode}) before the condition held:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"timed out waiting:\n{out}\n{err}")
        time.sleep(0.02)


def logged_step(run_dir: Path) -> int:
    """The last step in ``metrics.jsonl`` (0 if none yet)."""
    import json

    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return 0
    last = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            last = int(json.loads(line)["step"])
        except (ValueError, KeyError):
            continue
    return last
