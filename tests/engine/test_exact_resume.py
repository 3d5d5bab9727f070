"""Exact resume on the CPU: N steps straight == k steps + resume + (N - k) steps, bit for bit;
the same seed gives the same weights in two fresh runs."""

from __future__ import annotations

import json

import pytest
import torch

from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine.api import resume_run, start_run
from tests.engine.conftest import assert_same_weights, final_state, ring8_user, shapes_user, with_steps

ALL_NETS = ("generator", "discriminator")


def _losses(run_dir):
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss_d"], r["loss_g"]) for r in rows]


def _straight_and_split(tmp_path, user, k):
    n = user["run"]["steps"]
    straight = start_run(user, tmp_path / "straight")
    assert straight.status == "completed" and straight.step == n
    first = start_run(with_steps(user, k), tmp_path / "split")
    assert first.step == k
    # The split run's config says k steps: extend it to n, as `ganzoo resume RUN --steps n` does.
    second = resume_run(tmp_path / "split", steps=n)
    assert second.status == "completed" and second.step == n
    return final_state(tmp_path / "straight"), final_state(tmp_path / "split")


@pytest.mark.parametrize(
    "train",
    [
        pytest.param({"ema": True, "n_critic": 2}, id="device-data-ema-ncritic2"),
        pytest.param({"device_data_limit_mb": 0, "num_workers": 0}, id="dataloader"),
        pytest.param({"device_data_limit_mb": 0, "num_workers": 1}, id="dataloader-prefetching-worker"),
    ],
)
def test_exact_resume_vector(tmp_path, train):
    user = ring8_user(23, **train)  # 23 x 16 x n_critic indices: crosses epochs of the 200 points
    a, b = _straight_and_split(tmp_path, user, k=10)  # k on a log boundary: the same metrics rows
    keys = ALL_NETS + (("ema",) if train.get("ema") else ())
    assert_same_weights(a, b, keys)
    assert a["data"] == b["data"]
    assert _losses(tmp_path / "straight") == _losses(tmp_path / "split")


def test_dataloader_path_is_really_used(tmp_path):
    from ganzoo.config import resolve
    from ganzoo.engine.trainer import Trainer
    from ganzoo.plugins import get_host

    streamed = Trainer(resolve(ring8_user(2, device_data_limit_mb=0, num_workers=0)), tmp_path / "a", get_host())
    resident = Trainer(resolve(ring8_user(2)), tmp_path / "b", get_host())
    assert not streamed.batches.resident and streamed.batches.x is None
    assert resident.batches.resident and resident.batches.x.device == resident.device
    # Same order of real data on both paths.
    for _ in range(15):
        a, b = streamed.batches.next(), resident.batches.next()
        assert torch.equal(a.x, b.x) and (a.labels is None) == (b.labels is None)
        assert a.labels is None or torch.equal(a.labels, b.labels)


def test_exact_resume_images_batchnorm(tmp_path):
    """Convolutions, BatchNorm running statistics and EMA buffers survive the resume exactly."""
    a, b = _straight_and_split(tmp_path, shapes_user(6, ema=True), k=3)
    assert_same_weights(a, b, ALL_NETS + ("ema",))
    assert any("running_mean" in k for k in a["generator"])


def test_resume_without_step_change_finishes_the_configured_steps(tmp_path):
    """A run cut short (its newest checkpoint before the end) continues to its configured total."""
    user = ring8_user(12, checkpoint_every=4, log_every=4)
    start_run(user, tmp_path / "straight")
    start_run(user, tmp_path / "cut")
    for step, path in ckpt.list_checkpoints(tmp_path / "cut"):
        if step > 4:
            path.unlink()
    result = resume_run(tmp_path / "cut")
    assert result.step == 12
    assert_same_weights(final_state(tmp_path / "straight"), final_state(tmp_path / "cut"), ALL_NETS)
    assert _losses(tmp_path / "straight") == _losses(tmp_path / "cut")  # metrics rows after step 4 replaced


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    user = ring8_user(8, ema=True)
    start_run(user, tmp_path / "a")
    start_run(user, tmp_path / "b")
    other = ring8_user(8, ema=True)
    other["run"]["seed"] = 6
    start_run(other, tmp_path / "c")
    a, b, c = (final_state(tmp_path / x) for x in "abc")
    assert_same_weights(a, b, ALL_NETS + ("ema",))
    assert any(not torch.equal(a["generator"][k], c["generator"][k]) for k in a["generator"])


def test_same_seed_same_weights_images(tmp_path):
    start_run(shapes_user(3), tmp_path / "a")
    start_run(shapes_user(3), tmp_path / "b")
    assert_same_weights(final_state(tmp_path / "a"), final_state(tmp_path / "b"), ALL_NETS)
