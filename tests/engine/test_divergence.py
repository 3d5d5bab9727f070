"""A non-finite loss stops the run with a one-line error naming the step and the loss; the last good
checkpoint stays and nothing after the failure is written."""

from __future__ import annotations

import json

import pytest
import tomli_w

from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine.api import start_run
from ganzoo.errors import TrainingDivergedError
from tests.engine.conftest import ring8_user, run_cli
from tests.engine.plugins_for_tests import host_with_test_plugins


def _nan_user(at: int, **train):
    user = ring8_user(20, **train)
    user["run"]["loss"] = "test-nan-at"
    user["loss"] = {"at": at}
    return user


@pytest.mark.parametrize("log_every, checkpoint_every", [(1, 2), (10, 2), (3, 0)])
def test_nan_stops_run_naming_step_and_loss(tmp_path, log_every, checkpoint_every):
    """The failure is found at the next log row or checkpoint, whichever comes first, and always
    reported with the step where the loss first became NaN."""
    run_dir = tmp_path / "run"
    user = _nan_user(5, log_every=log_every, checkpoint_every=checkpoint_every)
    with pytest.raises(TrainingDivergedError, match=r"^loss_d became NaN or infinite at step 5; ") as info:
        start_run(user, run_dir, host=host_with_test_plugins())
    steps = [s for s, _ in ckpt.list_checkpoints(run_dir)]
    assert steps == ([4, 2] if checkpoint_every else [])
    if steps:
        assert str(ckpt.checkpoint_path(run_dir, 4)) in str(info.value)
    else:
        assert "wrote no checkpoint" in str(info.value)
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "step 5" in status["error"]
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()] if (run_dir / "metrics.jsonl").exists() else []
    assert all(r["step"] < 5 for r in rows)  # no metrics row with a NaN
    assert not (run_dir / "samples").exists() or not any((run_dir / "samples").iterdir())


def test_cli_nan_one_line_error_nonzero_exit(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(tomli_w.dumps(_nan_user(5, log_every=10, checkpoint_every=2)))
    run_dir = tmp_path / "run"
    result = run_cli("train", "--config", str(cfg), "--out", str(run_dir), "--quiet", test_plugins=True)
    assert result.returncode == TrainingDivergedError.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: loss_d became NaN or infinite at step 5; the run stopped and keeps its "
                               f"last good checkpoint {ckpt.checkpoint_path(run_dir, 4)}")
    assert "Traceback" not in result.stderr
    assert [s for s, _ in ckpt.list_checkpoints(run_dir)] == [4, 2]
    # The kept checkpoint is finite and loads.
    state = ckpt.load_latest(run_dir)[0]
    assert all(t.isfinite().all() for t in state["generator"].values())
