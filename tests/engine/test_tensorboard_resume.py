"""Resumed runs give continuous TensorBoard curves: every step once, no event file for a no-op resume (issue 17)."""

from __future__ import annotations

import warnings
from pathlib import Path

from ganzoo.engine.api import resume_run, start_run
from tests.engine.conftest import ring8_user


def _loss_d_steps(tb: Path) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc.Reload()
    return [e.step for e in acc.Scalars("loss_d")]


def test_resumed_run_has_each_step_once(tmp_path: Path, caplog) -> None:
    run = tmp_path / "run"
    user = ring8_user(6, log_every=1, tensorboard=True)
    assert start_run(user, run).step == 6
    assert resume_run(run, steps=9).step == 9
    files = sorted(p.name for p in (run / "tb").iterdir())
    assert resume_run(run, steps=9).step == 9  # nothing to do
    assert sorted(p.name for p in (run / "tb").iterdir()) == files
    assert resume_run(run, steps=12).step == 12
    with caplog.at_level("WARNING"):
        steps = _loss_d_steps(run / "tb")
    assert steps == list(range(1, 13))
    assert "out-of-order" not in caplog.text.lower()


def test_resume_purges_what_was_logged_after_the_checkpoint(tmp_path: Path) -> None:
    """Rows logged after the last checkpoint (a run killed between checkpoints) are replaced, not doubled."""
    run = tmp_path / "run"
    assert start_run(ring8_user(6, log_every=1, tensorboard=True, checkpoint_every=4, keep_checkpoints=5), run).step == 6
    (run / "checkpoints" / "step-00000006.pt").unlink()  # as if killed after step 6 was logged
    assert resume_run(run, steps=8).step == 8
    assert _loss_d_steps(run / "tb") == list(range(1, 9))
