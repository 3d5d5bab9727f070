"""Learning-rate schedules (``train.lr_schedule``, ``lr_warmup``, ``lr_final``): their shape, the rates the
optimisers actually use, the logged rate, exact resume and the error for a bad name."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.config import resolve
from ganzoo.engine.api import resume_run, start_run
from ganzoo.engine.schedule import lr_factor
from ganzoo.engine.trainer import Trainer
from ganzoo.plugins import get_host
from tests.engine.conftest import assert_same_weights, final_state, ring8_user


def test_constant_is_one_everywhere():
    assert [lr_factor(s, 10) for s in range(10)] == [1.0] * 10


def test_warmup_rises_linearly_then_holds():
    assert [lr_factor(s, 10, "constant", warmup=4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_decay_runs_from_one_to_final(schedule):
    f = [lr_factor(s, 101, schedule, warmup=0, final=0.1) for s in range(101)]
    assert f[0] == 1.0 and f[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(f, f[1:]))  # never rises
    mid = 0.1 + 0.9 * 0.5  # both shapes are half-way at the middle step
    assert f[50] == pytest.approx(mid)
    quarter = 0.1 + 0.9 * (0.75 if schedule == "linear" else 0.5 * (1 + math.cos(math.pi / 4)))
    assert f[25] == pytest.approx(quarter)


def test_decay_starts_after_warmup():
    f = [lr_factor(s, 12, "cosine", warmup=2) for s in range(12)]
    assert f[:3] == [0.5, 1.0, 1.0] and f[-1] == 0.0


def test_unknown_schedule_names_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'; allowed: constant, linear, cosine"):
        lr_factor(0, 10, "step")


def test_optimisers_use_the_scheduled_rates(tmp_path):
    user = ring8_user(10, lr_g=1e-3, lr_d=4e-4, lr_schedule="linear", lr_warmup=2, lr_final=0.5)
    t = Trainer(resolve(user), tmp_path / "run", get_host())
    for step in range(10):
        t.train_step()
        factor = lr_factor(step, 10, "linear", 2, 0.5)
        assert t.nets.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * factor)
        assert t.nets.opt_d.param_groups[0]["lr"] == pytest.approx(4e-4 * factor)


def test_logged_rate_and_exact_resume(tmp_path):
    """A cosine run stopped after its step-6 checkpoint and resumed ends with the same weights as the
    straight run (the rate is a function of the step, nothing else), and metrics.jsonl shows it decaying."""
    user = ring8_user(12, lr_schedule="cosine", lr_warmup=2, checkpoint_every=3, keep_checkpoints=10, ema=True)
    straight, split = tmp_path / "straight", tmp_path / "split"
    start_run(user, straight)
    shutil.copytree(straight, split)
    for late in ("step-00000009.pt", "step-00000012.pt"):  # as if the run had been killed after step 6
        (split / "checkpoints" / late).unlink()
    assert resume_run(split).step == 12
    assert_same_weights(final_state(straight), final_state(split), keys=("generator", "discriminator", "ema"))
    rates = [json.loads(line)["lr_g"] for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert rates == sorted(rates, reverse=True) and rates[-1] == 0.0 and rates[0] > 0


def test_constant_runs_log_no_rate(tmp_path):
    start_run(ring8_user(5), tmp_path / "run")
    assert "lr_g" not in json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])


def test_bad_schedule_is_one_line_without_traceback(tmp_path):
    r = CliRunner().invoke(cli, ["train", "--dataset", "ring8", "--arch", "mlp", "--loss", "ns-gan", "--steps", "2",
                                 "--out", str(tmp_path / "run"), "--set", "train.lr_schedule=step"])
    assert r.exit_code != 0
    assert "train.lr_schedule: invalid value 'step'; expected one of 'constant', 'linear', 'cosine'" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "run" / "checkpoints").exists()
