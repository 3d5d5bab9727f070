"""Reliability (issue 18): one writer per run directory, clean storage errors, run directories that can
always be continued or restarted, resume against an edited config.toml, absurd sizes refused, plugin
failures named or survived, divergence without NaN noticed."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ganzoo import hookimpl
from ganzoo.cli import cli
from ganzoo.engine.api import resume_run, start_run
from ganzoo.errors import InvalidComponentError, TrainingDivergedError
from ganzoo.files import LOCK_INFO_FILE, StorageError, read_json_lines
from ganzoo.plugins import PluginHost
from ganzoo.runtime.output import write_npy
from tests.engine.conftest import ring8_user
from tests.toolkit.scratch_plugin import ScratchLoss

RING8_FLAGS = ["--dataset", "ring8", "--arch", "mlp", "--loss", "ns-gan", "--batch-size", "16", "--device", "cpu",
               "--set", "arch.hidden=16",
               "--set", "arch.latent_dim=8", "--set", "dataset.size=200", "--set", "train.tensorboard=false",
               "--set", "train.sample_every=0", "--set", "train.log_every=2", "--quiet"]


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def _one_line_error(result, code: int, *expected: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def _status(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "status.json").read_text())


def host_with(*plugins: tuple[Any, str]) -> PluginHost:
    host = PluginHost(strict=True, disabled=set()).load_entry_points()
    for obj, name in plugins:
        host.add_plugin(obj, name)
    return host


def _losses(*losses: Any) -> Any:
    class Plugin:
        @hookimpl
        def ganzoo_register_losses(self, register):
            for loss in losses:
                register(loss)

    return Plugin()


# --------------------------------------------------------------------------- 2. one writer per run directory

HOLDER = textwrap.dedent("""
    import sys, time
    from ganzoo.files import run_dir_lock
    with run_dir_lock(sys.argv[1], "train"):
        print("held", flush=True)
        time.sleep(120)
""")


@pytest.fixture
def held_run(tmp_path):
    """A finished run whose directory another process holds (as a running `ganzoo train` would)."""
    run_dir = tmp_path / "run"
    start_run(ring8_user(2), run_dir)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield run_dir, proc.pid
    proc.kill()
    proc.wait()


def test_second_writer_is_refused_naming_the_holder(held_run, tmp_path):
    run_dir, pid = held_run
    before = sorted(p.name for p in run_dir.rglob("*"))
    for args in (["train", *RING8_FLAGS, "--steps", "2", "--out", str(run_dir)],
                 ["resume", str(run_dir), "--steps", "4", "--quiet"],
                 ["export", str(run_dir)],
                 ["sample", str(run_dir), "-n", "4", "-o", str(run_dir / "s.npy")],
                 ["eval", str(run_dir), "--metrics", "modes", "--num-samples", "100", "--quiet"]):
        line = _one_line_error(_invoke(*args), 2, "is in use by `ganzoo train`", f"pid {pid}", "since")
        assert str(run_dir) in line
    assert sorted(p.name for p in run_dir.rglob("*")) == before  # nothing written by the refused commands
    # Writing elsewhere from the same run is not blocked.
    ok = _invoke("sample", str(run_dir), "-n", "4", "-o", str(tmp_path / "elsewhere.npy"))
    assert ok.exit_code == 0, ok.output


def test_two_concurrent_trains_one_is_refused(tmp_path):
    """Two real `ganzoo train --out D` processes: exactly one trains D, the other exits 2 at once."""
    out = tmp_path / "shared"
    cmd = [sys.executable, "-m", "ganzoo", "train", *RING8_FLAGS, "--out", str(out)]
    procs = [subprocess.Popen([*cmd, "--steps", str(steps), "--seed", str(seed)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for steps, seed in ((300, 1), (301, 2))]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[2] == 2)
    assert "is in use by `ganzoo train`" in loser[1] or "already holds a run" in loser[1]
    winner_steps = 300 if results[0][2] == 0 else 301
    assert _status(out) == {**_status(out), "status": "completed", "step": winner_steps}
    assert not (out / LOCK_INFO_FILE).exists()  # released on exit


# --------------------------------------------------------------------------- 3. storage errors


def test_enospc_during_checkpoint_is_one_line_with_truthful_status(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    real_save = torch.save

    def full_disk(obj, f, *a, **k):
        if str(f).endswith(".tmp") and "checkpoints" in str(f):
            Path(f).write_bytes(b"x" * 100)  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(f))
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", full_disk)
    res = _invoke("train", *RING8_FLAGS, "--steps", "4", "--out", str(run_dir))
    line = _one_line_error(res, 1, "No space left on device", "checkpoints")
    assert "Traceback" not in res.output
    status = _status(run_dir)
    assert status["status"] == "failed" and status["step"] == 4 and "No space left" in status["error"], (status, line)
    assert not list(run_dir.rglob("*.tmp"))


def test_read_only_out_is_one_line(tmp_path, monkeypatch):
    real_mkdir = os.mkdir

    def read_only(path, *a, **k):
        if str(path).startswith(str(tmp_path / "ro")):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_mkdir(path, *a, **k)

    monkeypatch.setattr(os, "mkdir", read_only)
    res = _invoke("train", *RING8_FLAGS, "--steps", "2", "--out", str(tmp_path / "ro" / "run"))
    _one_line_error(res, 1, "Read-only file system", str(tmp_path / "ro"))


def test_npy_output_checks_space_first(tmp_path, monkeypatch):
    import shutil

    from ganzoo import files

    monkeypatch.setattr(files.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    batches = (np.zeros((10, 3, 32, 32), np.float32) for _ in range(10))
    with pytest.raises(StorageError, match=r"100 samples of shape \[3, 32, 32\] needs 1.2 MB but .* has 1.0 KB free"):
        write_npy(tmp_path / "x.npy", batches, 100)
    assert list(tmp_path.iterdir()) == []


def test_npy_output_is_streamed_and_correct(tmp_path):
    batches = [np.full((3, 2), i, np.float32) for i in range(4)]
    seen: list[int] = []
    write_npy(tmp_path / "x.npy", iter(batches), 12, progress=seen.append)
    assert seen == [3, 3, 3, 3]
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.concatenate(batches))


SLOW_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from ganzoo.runtime.output import write_npy
    def batches():
        for i in range(1000):
            yield np.zeros((1000, 64), np.float32)
            if i == 2:
                print("writing", flush=True)
            time.sleep(0.05)
    write_npy(sys.argv[1], batches(), 1000 * 1000)
""")


def test_sigterm_during_npy_write_leaves_no_temp_file(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(tmp_path / "x.npy")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    assert any(tmp_path.iterdir())  # the temporary file exists while writing
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- 4. runs stopped before a checkpoint


class NanAtOnce(ScratchLoss):
    name = "nan-at-once"

    def generator_loss(self, real_logits, fake_logits, ctx=None):
        return super().generator_loss(real_logits, fake_logits, ctx) * float("nan")


def test_run_without_checkpoint_can_be_restarted(tmp_path):
    host = host_with((_losses(NanAtOnce()), "nan-plugin"))
    run_dir = tmp_path / "run"
    user = ring8_user(4, log_every=1)
    user["run"]["loss"] = "nan-at-once"
    with pytest.raises(TrainingDivergedError):
        start_run(user, run_dir, host=host)
    assert (run_dir / "config.toml").exists() and not list((run_dir / "checkpoints").glob("*.pt"))
    assert _status(run_dir)["status"] == "failed"
    # resume says how to continue; train with the same directory starts it over (one-line note).
    res = _invoke("resume", str(run_dir))
    _one_line_error(res, 2, "no checkpoint", f"ganzoo train --config {run_dir / 'config.toml'} --out {run_dir}")
    # A SIGKILLed run looks the same: config.toml and a status saying running.
    (run_dir / "status.json").write_text(json.dumps({"status": "running", "step": 0}))
    res = _invoke("train", *RING8_FLAGS, "--steps", "2", "--out", str(run_dir))
    assert res.exit_code == 0, res.output
    assert "stopped before its first checkpoint" in res.stderr and "starting it over" in res.stderr
    assert _status(run_dir)["status"] == "completed"
    assert json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 2


# --------------------------------------------------------------------------- 5. resume and config.toml


@pytest.fixture
def two_step_run(tmp_path):
    run_dir = tmp_path / "run"
    start_run(ring8_user(2), run_dir)
    return run_dir


def test_edited_config_is_refused_naming_the_keys(two_step_run):
    path = two_step_run / "config.toml"
    text = path.read_text()
    path.write_text(text.replace("lr_g = 0.0002", "lr_g = 0.5").replace("hidden = 16", "hidden = 32"))
    res = _invoke("resume", str(two_step_run), "--steps", "4", "--quiet")
    _one_line_error(res, 2, "was edited", "arch.hidden", "train.lr_g")
    assert _status(two_step_run)["step"] == 2  # nothing ran


@pytest.mark.parametrize("content", [b"", b"\x00\xff\xfe binary \x00", b"# only a comment\n"])
def test_empty_or_binary_config_resumes_from_the_checkpoint(two_step_run, content):
    (two_step_run / "config.toml").write_bytes(content)
    res = _invoke("resume", str(two_step_run), "--steps", "3", "--quiet")
    assert res.exit_code == 0, res.output
    assert "resuming with the configuration stored in the checkpoint" in res.stderr
    state = torch.load(sorted((two_step_run / "checkpoints").glob("*.pt"))[-1], weights_only=True)
    assert state["config"]["arch"]["hidden"] == 16 and state["config"]["run"]["steps"] == 3
    assert "hidden = 16" in (two_step_run / "config.toml").read_text()  # rewritten from the checkpoint


def test_resume_records_exactly_what_was_applied(two_step_run):
    resume_run(two_step_run, steps=3)
    state = torch.load(sorted((two_step_run / "checkpoints").glob("*.pt"))[-1], weights_only=True)
    assert state["config"]["run"]["steps"] == 3 and state["config"]["train"]["lr_g"] == 2e-4


@pytest.mark.parametrize("content", [b"", b"\x00\xff\xfe binary"])
def test_empty_or_binary_config_file_for_train_is_one_line(tmp_path, content):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(content)
    _one_line_error(_invoke("train", "--config", str(cfg), "--out", str(tmp_path / "r")), 2, str(cfg))
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- 6. absurd values, bad bytes


@pytest.mark.parametrize("args, expected", [
    (["--batch-size", "1000000000"], "run.batch_size: invalid value 1000000000; expected an integer >= 1 and <= 65536"),
    (["--seed", str(2**70)], "run.seed: invalid value"),
    (["--set", "arch.hidden=1000000000"], "arch.hidden: invalid value 1000000000; expected an integer >= 1 and <= 16384"),
    (["--set", "arch.latent_dim=100000000"], "<= 4096"),
    (["--set", "dataset.size=100000000000"], "<= 10000000"),
    (["--set", "train.n_critic=100000"], "<= 100"),
    (["--set", "train.num_samples=100000000"], "<= 4096"),
    (["--mitigation", "unrolled", "--set", "mitigation.unrolled.steps=100000"], "mitigation.unrolled.steps: invalid value 100000; expected an integer >= 1 and <= 100"),
    (["--mitigation", "pacgan", "--set", "mitigation.pacgan.pack=100000"], "<= 64"),
    (["--mitigation", "minibatch-discrimination", "--set", "mitigation.minibatch-discrimination.num_kernels=10000000"], "<= 4096"),
])
def test_absurd_sizes_are_refused_with_the_range(tmp_path, args, expected):
    base = [a for a in RING8_FLAGS]
    res = _invoke("train", *base, "--steps", "2", *args, "--out", str(tmp_path / "r"))
    _one_line_error(res, 2, expected)
    assert not (tmp_path / "r").exists()


def test_absurd_cli_sizes_are_refused(two_step_run, tmp_path):
    _one_line_error(_invoke("eval", str(two_step_run), "--metrics", "modes", "--num-samples", str(10**12)), 2,
                    "expected 2 to 1,000,000")
    _one_line_error(_invoke("eval", str(two_step_run), "--metrics", "modes", "--batch-size", str(10**9)), 2,
                    "expected 1 to 65,536")


def test_non_object_lines_in_metrics_are_dropped_on_resume(two_step_run):
    metrics = two_step_run / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + "[1, 2]\n42\n\"text\"\n{\"step\": \"x\"}\n")
    res = _invoke("resume", str(two_step_run), "--steps", "4", "--quiet")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert all(isinstance(r, dict) and isinstance(r["step"], int) for r in rows)


def test_json_lines_reader_keeps_objects_in_order_and_skips_the_rest(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert read_json_lines(path) == []  # missing file
    path.write_bytes(b'{"step": 1}\n[1, 2]\n\xff\xfe\nnot json\n{"step": 2, "loss_d": 0.5}\n{"step": 3, "lo')
    assert read_json_lines(path) == [{"step": 1}, {"step": 2, "loss_d": 0.5}]  # the torn last line is left out


# --------------------------------------------------------------------------- 7. plugin failures at run time


class NoneLoss(ScratchLoss):
    name = "none-loss"

    def generator_loss(self, real_logits, fake_logits, ctx=None):
        return None


def test_none_loss_names_the_plugin_and_the_method(tmp_path):
    host = host_with((_losses(NoneLoss()), "none-plugin"))
    user = ring8_user(2)
    user["run"]["loss"] = "none-loss"
    with pytest.raises(InvalidComponentError) as err:
        start_run(user, tmp_path / "run", host=host)
    msg = str(err.value)
    assert "loss 'none-loss' (plugin 'none-plugin')" in msg and "generator_loss() returned None" in msg
    assert "\n" not in msg
    status = _status(tmp_path / "run")
    assert status["status"] == "failed" and "none-plugin" in status["error"]


class RaisingObserver:
    def __init__(self) -> None:
        self.logs = 0

    @hookimpl
    def ganzoo_log(self, run_dir, step, metrics):
        self.logs += 1
        raise RuntimeError("observer bug")

    @hookimpl
    def ganzoo_checkpoint_saved(self, run_dir, step, path):
        raise ValueError("cannot upload")

    @hookimpl
    def ganzoo_train_end(self, run_dir, step, status):
        raise KeyError("end")


class Counter:
    def __init__(self) -> None:
        self.logs = 0

    @hookimpl
    def ganzoo_log(self, run_dir, step, metrics):
        self.logs += 1


def test_raising_observer_hooks_do_not_stop_training(tmp_path, capsys):
    bad, good = RaisingObserver(), Counter()
    host = host_with((bad, "flaky-observer"), (good, "counter"))
    run_dir = tmp_path / "run"
    result = start_run(ring8_user(6, log_every=1, checkpoint_every=2), run_dir, host=host)
    assert result.status == "completed" and result.step == 6
    assert bad.logs == 6 and good.logs == 6  # called every time; the other plugin is unaffected
    err = capsys.readouterr().err
    assert err.count("plugin 'flaky-observer' failed in ganzoo_log") == 1  # reported once
    assert err.count("failed in ganzoo_checkpoint_saved") == 1 and err.count("failed in ganzoo_train_end") == 1
    status = _status(run_dir)
    assert status["status"] == "completed"
    assert {(f["plugin"], f["hook"]) for f in status["plugin_failures"]} == {
        ("flaky-observer", "ganzoo_log"), ("flaky-observer", "ganzoo_checkpoint_saved"),
        ("flaky-observer", "ganzoo_train_end")}
    assert any("observer bug" in f["error"] for f in status["plugin_failures"])


# --------------------------------------------------------------------------- 8. divergence without NaN


class HugeLoss(ScratchLoss):
    name = "huge-loss"

    def discriminator_loss(self, real_logits, fake_logits, ctx=None):
        return super().discriminator_loss(real_logits, fake_logits, ctx) * 1e9


def test_exploding_losses_warn_once_in_log_and_status(tmp_path, capsys):
    host = host_with((_losses(HugeLoss()), "huge"))
    user = ring8_user(6, log_every=1)
    user["run"]["loss"] = "huge-loss"
    assert start_run(user, tmp_path / "run", host=host).status == "completed"
    err = capsys.readouterr().err
    assert err.count("training looks divergent") == 1 and "loss_d" in err
    status = _status(tmp_path / "run")
    assert status["status"] == "completed" and "loss_d" in status["warnings"][0]


def test_max_loss_stops_the_run_cleanly(tmp_path):
    host = host_with((_losses(HugeLoss()), "huge"))
    user = ring8_user(6, log_every=1, max_loss=1e3)
    user["run"]["loss"] = "huge-loss"
    with pytest.raises(TrainingDivergedError, match=r"loss_d reached .* beyond train.max_loss=1000"):
        start_run(user, tmp_path / "run", host=host)
    status = _status(tmp_path / "run")
    assert status["status"] == "failed" and status["step"] == 1 and "max_loss" in status["error"]


def test_sane_run_gives_no_divergence_warning(tmp_path, capsys):
    start_run(ring8_user(4, log_every=1), tmp_path / "run")
    assert "divergent" not in capsys.readouterr().err
    assert "warnings" not in _status(tmp_path / "run")
