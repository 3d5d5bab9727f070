"""Runs stopped from outside, in a real ``ganzoo`` subprocess.

SIGKILL between two checkpoints: ``ganzoo resume`` continues from the last checkpoint and ends with
the straight run's weights, bit for bit. Ctrl-C (SIGINT to the whole process group, DataLoader worker
included) and SIGTERM: a checkpoint at the interrupted step, a message saying how to resume, exit
code 128 + signal; resuming finishes the run, again bit-identical to the straight run.

The CLI runs with a test hook that sleeps at every logged step (``log_every = 1``), so the signals
land between checkpoints without racing the run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine.api import resume_run, start_run
from tests.engine.conftest import (
    assert_same_weights,
    cli_env,
    final_state,
    ganzoo_cmd,
    logged_step,
    ring8_user,
    run_cli,
    wait_for,
)
from tests.engine.plugins_for_tests import host_with_test_plugins

pytestmark = pytest.mark.slow

STEPS, EVERY = 40, 10
SLEEP = 0.1  # seconds per step in the subprocess: EVERY steps between checkpoints = 1 s
NETS = ("generator", "discriminator")


def _user(**train: Any) -> dict[str, Any]:
    return ring8_user(STEPS, checkpoint_every=EVERY, log_every=1, **train)


def _losses(run_dir: Path) -> list[tuple[Any, ...]]:
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss_d"], r["loss_g"]) for r in rows]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The reference: the same run trained straight through, in this process."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_dir = tmp_path_factory.mktemp("straight") / "run"
        start_run(_user(), run_dir)
    finally:
        torch.set_num_threads(threads)
    return run_dir


def _start(tmp_path: Path, user: dict[str, Any], sleep: float, data_delay: float = 0, mp_start: str = "",
           **popen: Any) -> tuple[subprocess.Popen[str], Path]:
    cfg = tmp_path / "run.toml"
    cfg.write_text(tomli_w.dumps(user))
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        ganzoo_cmd("train", "--config", str(cfg), "--out", str(run_dir), "--quiet", test_plugins=True),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cli_env(GANZOO_TEST_SLEEP=str(sleep), GANZOO_TEST_DATA_DELAY=str(data_delay),
                    GANZOO_TEST_MP_START=mp_start),
        **popen,
    )
    return proc, run_dir


def test_sigkill_between_checkpoints_then_resume_is_exact(tmp_path, straight):
    proc, run_dir = _start(tmp_path, _user(), sleep=SLEEP)
    wait_for(lambda: logged_step(run_dir) >= EVERY + 3, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert [s for s, _ in ckpt.list_checkpoints(run_dir)] == [EVERY]  # killed between two checkpoints
    assert logged_step(run_dir) > EVERY

    result = run_cli("resume", str(run_dir), "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"Run complete at step {STEPS}" in result.stdout
    assert "Traceback" not in result.stderr
    assert_same_weights(final_state(straight), final_state(run_dir), NETS)
    assert _losses(straight) == _losses(run_dir)  # rows logged after the checkpoint were replaced


def test_ctrl_c_saves_checkpoint_and_resume_finishes_exactly(tmp_path, tmp_path_factory):
    """SIGINT to the whole process group, as a terminal's Ctrl-C, while the main process waits for
    a slow DataLoader worker started with spawn: the worker must leave the signal to the main
    process (a worker that dies of it breaks the batch being waited for: a traceback, no checkpoint)."""
    user = _user(num_workers=1)
    user["run"]["dataset"] = "test-slow-ring8"  # ring8 without tensors: always through the DataLoader
    host = host_with_test_plugins()
    reference = tmp_path_factory.mktemp("straight-stream") / "run"
    start_run(user, reference, host=host)

    proc, run_dir = _start(tmp_path, user, sleep=0, start_new_session=True, data_delay=0.01,  # ~0.16 s a batch
                           mp_start="spawn")
    wait_for(lambda: bool(ckpt.list_checkpoints(run_dir)) and logged_step(run_dir) >= EVERY + 2, proc)
    time.sleep(0.05)  # the main process is now waiting for the worker's next batch
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT, err
    m = re.search(r"Interrupted by SIGINT at step (\d+); checkpoint saved\. Resume with: ganzoo resume (\S+)", err)
    assert m, err
    assert "Traceback" not in err
    step = int(m.group(1))
    assert EVERY < step < STEPS and Path(m.group(2)) == run_dir
    assert ckpt.list_checkpoints(run_dir)[0] == (step, ckpt.checkpoint_path(run_dir, step))
    assert json.loads((run_dir / "status.json").read_text())["status"] == "interrupted"

    result = resume_run(run_dir, host=host)  # `ganzoo resume` itself: the SIGKILL test
    assert result.status == "completed" and result.step == STEPS
    assert_same_weights(final_state(reference), final_state(run_dir), NETS)


def test_sigterm_saves_checkpoint_and_resume_finishes_exactly(tmp_path, straight):
    proc, run_dir = _start(tmp_path, _user(), sleep=SLEEP)
    wait_for(lambda: logged_step(run_dir) >= 3, proc)  # before the first periodic checkpoint
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    m = re.search(r"Interrupted by SIGTERM at step (\d+); checkpoint saved\. Resume with: ganzoo resume", err)
    assert m, err
    step = int(m.group(1))
    assert [s for s, _ in ckpt.list_checkpoints(run_dir)] == [step]

    result = resume_run(run_dir)
    assert result.status == "completed" and result.step == STEPS
    assert_same_weights(final_state(straight), final_state(run_dir), NETS)
