"""Checkpoints: complete contents, atomic writes, safe loading, corrupt files skipped with a warning."""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from ganzoo.config import resolve
from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine import rng
from ganzoo.engine.api import start_run
from ganzoo.engine.trainer import Trainer
from ganzoo.errors import CheckpointError
from ganzoo.plugins import get_host
from tests.engine.conftest import ring8_user


@pytest.fixture(scope="module")
def run_with_checkpoints(tmp_path_factory) -> Path:
    """A finished tiny run with checkpoints at steps 4, 8, 12 (EMA on, n_critic 2)."""
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    start_run(ring8_user(12, checkpoint_every=4, keep_checkpoints=3, ema=True, n_critic=2), run_dir)
    return run_dir


def test_checkpoint_holds_the_whole_training_state(run_with_checkpoints):
    path = ckpt.checkpoint_path(run_with_checkpoints, 12)
    state = torch.load(path, map_location="cpu", weights_only=True)  # plain tensors and scalars only
    assert state["format"] == ckpt.FORMAT and state["step"] == 12
    for key in ("generator", "discriminator", "ema", "opt_g", "opt_d", "scaler_g", "scaler_d", "rng",
                "latent_rng", "data", "data_info", "config", ckpt.DIGEST_KEY):
        assert state.get(key) is not None, key
    assert set(state["rng"]) == {"python", "numpy", "torch", "cuda"}
    # Both optimizers have stepped: 12 G steps, 24 D steps (n_critic 2).
    g_steps = {float(s["step"]) for s in state["opt_g"]["state"].values()}
    d_steps = {float(s["step"]) for s in state["opt_d"]["state"].values()}
    assert g_steps == {12.0} and d_steps == {24.0}
    # The data order position: 24 real batches of 16 from 200 points = 384 indices = epoch 1, offset 184.
    assert state["data"] == {"epoch": 1, "offset": 184, "batches": 24}
    assert state["ema"].keys() == state["generator"].keys()
    assert any(not torch.equal(state["ema"][k], state["generator"][k]) for k in state["ema"])  # a real average


def test_keeps_the_newest_checkpoints(run_with_checkpoints):
    assert [s for s, _ in ckpt.list_checkpoints(run_with_checkpoints)] == [12, 8, 4]


def test_rng_capture_restore_roundtrip():
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    state = rng.capture()
    a = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    rng.restore(state)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_truncated_newest_checkpoint_falls_back_with_warning(run_with_checkpoints, tmp_path):
    run = _copy_run(run_with_checkpoints, tmp_path / "run")
    newest = ckpt.checkpoint_path(run, 12)
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])
    with pytest.warns(RuntimeWarning, match=r"step-00000012\.pt is unreadable.*falling back"):
        state, path = ckpt.load_latest(run)
    assert state["step"] == 8 and path == ckpt.checkpoint_path(run, 8)


def test_corrupt_bytes_inside_newest_checkpoint_detected(run_with_checkpoints, tmp_path):
    """Flipped bytes inside a tensor record load fine with torch.load; the content digest catches them."""
    run = _copy_run(run_with_checkpoints, tmp_path / "run")
    newest = ckpt.checkpoint_path(run, 12)
    data = bytearray(newest.read_bytes())
    state = torch.load(newest, weights_only=True)
    needle = state["generator"][next(iter(state["generator"]))].numpy().tobytes()[:64]
    at = bytes(data).find(needle)
    assert at > 0
    data[at : at + 16] = bytes(b ^ 0x5A for b in data[at : at + 16])
    newest.write_bytes(bytes(data))
    torch.load(newest, weights_only=True)  # torch itself does not notice
    with pytest.warns(RuntimeWarning, match="corrupt"):
        state, _ = ckpt.load_latest(run)
    assert state["step"] == 8


def test_resume_uses_previous_checkpoint_when_newest_is_corrupt(run_with_checkpoints, tmp_path):
    run = _copy_run(run_with_checkpoints, tmp_path / "run")
    ckpt.checkpoint_path(run, 12).write_bytes(b"\0" * 1000)
    from ganzoo.rundir import read_run_config

    cfg = resolve({k: v for k, v in read_run_config(run).to_dict().items() if k != "plugins"}, get_host())
    with pytest.warns(RuntimeWarning, match="falling back"):
        trainer = Trainer(cfg, run, get_host(), resume=True)
    assert trainer.step == 8 and trainer.resumed_from == ckpt.checkpoint_path(run, 8)


def test_no_usable_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        ckpt.load_latest(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    ckpt.checkpoint_path(tmp_path, 3).write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(CheckpointError, match="no usable checkpoint"):
            ckpt.load_latest(tmp_path)


def test_not_weights_only_payload_is_refused(tmp_path):
    """A checkpoint that needs arbitrary unpickling (a planted object) is not loaded."""
    import argparse

    (tmp_path / "checkpoints").mkdir()
    path = ckpt.checkpoint_path(tmp_path, 1)
    torch.save({"format": ckpt.FORMAT, "format_version": 1, "step": 1, "generator": {}, "discriminator": {},
                "x": argparse.Namespace(cmd="rm -rf /")}, path)
    with pytest.raises(CheckpointError, match="unreadable"):
        ckpt.read(path)


def test_atomic_write_tmp_in_same_folder_fsync_rename(tmp_path, monkeypatch):
    calls: list[tuple[str, object]] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", fd)), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", (Path(a), Path(b)))), real_replace(a, b))[1])
    path = ckpt.save(tmp_path, {"step": 7, "generator": {"w": torch.ones(3)}, "discriminator": {}}, keep=2)
    kinds = [k for k, _ in calls]
    assert kinds.index("fsync") < kinds.index("replace")
    src, dst = next(v for k, v in calls if k == "replace")
    assert dst == path and src.parent == path.parent and src.name.endswith(".tmp")
    assert ckpt.read(path)["step"] == 7


def test_failed_write_leaves_previous_checkpoint_and_no_partial_file(tmp_path, monkeypatch):
    ckpt.save(tmp_path, {"step": 1, "generator": {"w": torch.ones(3)}, "discriminator": {}}, keep=3)

    def broken_save(obj, f, *a, **k):
        Path(f).write_bytes(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save(tmp_path, {"step": 2, "generator": {"w": torch.ones(3)}, "discriminator": {}}, keep=3)
    assert sorted(p.name for p in ckpt.checkpoint_dir(tmp_path).iterdir()) == ["step-00000001.pt"]
    assert ckpt.load_latest(tmp_path)[0]["step"] == 1


def test_leftover_tmp_of_a_killed_write_is_ignored_and_cleaned(tmp_path):
    ckpt.save(tmp_path, {"step": 1, "generator": {}, "discriminator": {}}, keep=3)
    stale = ckpt.checkpoint_dir(tmp_path) / ".step-00000002.pt.abc123.tmp"
    stale.write_bytes(b"PK partial")
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [1]
    ckpt.save(tmp_path, {"step": 3, "generator": {}, "discriminator": {}}, keep=3)
    assert not stale.exists()
