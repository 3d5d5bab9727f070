"""Engine features: precision, device, n_critic, EMA for sampling, no per-step host sync, logging
(metrics.jsonl, TensorBoard, PNG grids, progress bar) and ``ganzoo sample``."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.config import resolve
from ganzoo.engine.api import resume_run, start_run
from ganzoo.rundir import load_generator
from ganzoo.engine.trainer import Trainer
from ganzoo.errors import ConfigError
from ganzoo.plugins import get_host
from tests.engine.conftest import final_state, ring8_user, shapes_user

REPO = Path(__file__).resolve().parents[2]


def _trainer(user, tmp_path, **kw) -> Trainer:
    return Trainer(resolve(user), tmp_path / "run", get_host(), **kw)


def test_device_auto_and_fp16_on_cpu(tmp_path):
    user = ring8_user(1)
    user["run"]["device"] = "auto"
    t = _trainer(user, tmp_path)
    assert t.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        user["run"]["precision"] = "fp16"
        with pytest.raises(ConfigError, match="fp16 autocast needs a CUDA device; use bf16 or fp32 on the CPU"):
            _trainer(user, tmp_path)


def test_bf16_on_cpu_trains_with_finite_losses(tmp_path):
    user = shapes_user(2)
    user["run"]["precision"] = "bf16"
    t = _trainer(user, tmp_path)
    for _ in range(2):
        t.train_step()
    assert all(math.isfinite(v) for v in t._acc.tolist())
    t.check_finite()
    assert all(p.dtype == torch.float32 for p in t.G.parameters())  # autocast, fp32 master weights


@pytest.mark.parametrize("n_critic", [1, 3])
def test_n_critic_discriminator_updates_per_step(tmp_path, n_critic):
    t = _trainer(ring8_user(2, n_critic=n_critic), tmp_path)
    for _ in range(2):
        t.train_step()
    assert {float(s["step"]) for s in t.nets.opt_d.state.values()} == {2.0 * n_critic}
    assert {float(s["step"]) for s in t.nets.opt_g.state.values()} == {2.0}
    assert t.batches.batches_taken == 2 * n_critic


def test_ema_used_for_sampling_and_export(tmp_path):
    run = tmp_path / "run"
    start_run(ring8_user(6, ema=True, ema_decay=0.9), run)
    state = final_state(run)
    loaded = load_generator(run)
    assert loaded.used_ema
    for k, v in loaded.generator.state_dict().items():
        assert torch.equal(v, state["ema"][k])
    raw = load_generator(run, use_ema=False)
    assert not raw.used_ema
    assert any(not torch.equal(v, state["ema"][k]) for k, v in raw.generator.state_dict().items())
    with_ema = _trainer(ring8_user(1, ema=True), tmp_path)
    assert with_ema.sampling_generator is with_ema.ema.shadow
    without = _trainer(ring8_user(1), tmp_path)
    assert without.sampling_generator is without.G


def test_ema_copies_the_generator_until_ema_start_then_averages(tmp_path):
    t = _trainer(ring8_user(5, ema=True, ema_decay=0.9, ema_start=3), tmp_path)
    for _ in range(3):  # generator steps 0, 1, 2: the shadow is the generator
        t.train_step()
        for k, v in t.G.state_dict().items():
            assert torch.equal(t.ema.shadow.state_dict()[k], v), (t.step, k)
    before = {k: v.clone() for k, v in t.ema.shadow.state_dict().items()}
    t.train_step()  # step 3: the first average
    G, shadow = t.G.state_dict(), t.ema.shadow.state_dict()
    for k in G:
        torch.testing.assert_close(shadow[k], 0.9 * before[k] + 0.1 * G[k])
    assert any(not torch.equal(shadow[k], G[k]) for k in G)


def test_ema_start_survives_resume(tmp_path):
    """A resumed run keeps copying before ema_start and averaging after it, as one straight run."""
    user = ring8_user(6, ema=True, ema_decay=0.9, ema_start=4, checkpoint_every=2)
    straight, split = tmp_path / "straight", tmp_path / "split"
    start_run(user, straight)
    start_run(ring8_user(3, ema=True, ema_decay=0.9, ema_start=4, checkpoint_every=2), split)
    resume_run(split, steps=6)
    a, b = final_state(straight), final_state(split)
    for k in a["ema"]:
        assert torch.equal(a["ema"][k], b["ema"][k]), k


def test_no_host_sync_in_a_training_step(tmp_path, monkeypatch):
    """Losses stay on the device: the engine and the plugins it calls read no tensor value per step
    (``.item()``, ``.tolist()``, ``bool()``, ``float()``, ``.cpu()``, ``.numpy()``...)."""
    trainers = [_trainer(ring8_user(4, ema=True), tmp_path), _trainer(shapes_user(4), tmp_path)]
    ours = (str(REPO / "ganzoo"), str(REPO / "plugins"))
    seen: list[str] = []

    def guard(name):
        original = getattr(torch.Tensor, name)

        def wrapper(self, *a, **k):
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(ours):
                seen.append(f"{name} from {caller}:{sys._getframe(1).f_lineno}")
            return original(self, *a, **k)

        return wrapper

    for name in ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "cpu", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, guard(name))
    for t in trainers:
        for _ in range(2):
            t.train_step()
    monkeypatch.undo()
    assert not seen, seen
    assert all(t._acc_steps == 2 for t in trainers)


def test_logging_outputs(tmp_path, capsys):
    """metrics.jsonl rows, TensorBoard scalars and sample images, PNG grids, a progress bar with ETA and img/s."""
    run = tmp_path / "run"
    user = shapes_user(4, log_every=2, sample_every=2, tensorboard=True)
    t = Trainer(resolve(user), run, get_host(), quiet=False)
    assert t.run() == "completed"
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    assert all({"loss_d", "loss_g", "img_per_s", "wall_time"} <= set(r) and r["img_per_s"] > 0 for r in rows)
    pngs = sorted(p.name for p in (run / "samples").iterdir())
    assert pngs == ["step-00000002.png", "step-00000004.png"]
    assert all((run / "samples" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(run / "tb"))
    ea.Reload()
    tags = ea.Tags()
    assert {"loss_d", "loss_g", "img_per_s"} <= set(tags["scalars"])
    assert [e.step for e in ea.Scalars("loss_d")] == [2, 4]
    assert "samples" in tags["images"]

    err = capsys.readouterr().err
    assert "img/s" in err
    assert re.search(r"\d+:\d\d<\d+:\d\d", err), err  # elapsed<remaining (ETA)
    assert json.loads((run / "status.json").read_text())["status"] == "completed"


def test_sample_command_png_and_npy(tmp_path):
    run = tmp_path / "run"
    start_run(shapes_user(2, ema=True), run)
    png, npy = tmp_path / "grid.png", tmp_path / "x.npy"
    r = CliRunner().invoke(cli, ["sample", str(run), "-n", "9", "-o", str(png), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "Wrote 9 samples of step 2 (EMA)" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = CliRunner().invoke(cli, ["sample", str(run), "-n", "5", "-o", str(npy), "--device", "cpu", "--no-ema"])
    assert r.exit_code == 0, r.output
    x = np.load(npy)
    assert x.shape == (5, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
