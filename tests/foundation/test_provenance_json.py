"""config.toml records how a run was made; train prints a metric summary; --json on doctor, train, sample,
generate (issue 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from ganzoo.cli import cli

TINY = ["--dataset", "ring8", "--arch", "mlp", "--loss", "ns-gan", "--batch-size", "16", "--device", "cpu",
        "--set", "arch.hidden=16", "--set", "dataset.size=200", "--set", "train.log_every=1",
        "--set", "train.sample_every=0", "--set", "train.tensorboard=false", "--quiet"]


def _ganzoo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "ganzoo", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_config_records_provenance_and_resume_still_checks_edits(tmp_path: Path) -> None:
    _git("init", "-q", cwd=tmp_path)
    _git("commit", "-q", "--allow-empty", "-m", "start", cwd=tmp_path)
    commit = _git("rev-parse", "HEAD", cwd=tmp_path)
    done = _ganzoo("train", *TINY, "--steps", "2", "--out", "run", "--json", cwd=tmp_path)
    summary = json.loads(done.stdout)
    assert summary["run_dir"] == "run" and summary["status"] == "completed" and summary["step"] == 2
    assert {"loss_d", "loss_g", "wall_time"} <= set(summary)
    config = (tmp_path / "run" / "config.toml").read_text()
    assert "# train: ganzoo train --dataset ring8 --arch mlp --loss ns-gan" in config
    assert f"#   git commit {commit}" in config  # run/ is untracked: not +dirty
    import torch

    assert f"torch {torch.__version__}, CUDA " in config and "#   ganzoo " in config
    done = _ganzoo("resume", "run", "--steps", "3", cwd=tmp_path)  # comments do not count as an edit
    assert done.stdout.startswith("Run complete at step 3 (loss_d ") and "wall time): run" in done.stdout
    config = (tmp_path / "run" / "config.toml").read_text()
    assert "# train: ganzoo train" in config and "# resume: ganzoo resume run --steps 3" in config
    assert config.index("# train:") < config.index("# resume:") < config.index("[run]")
    (tmp_path / "run" / "config.toml").write_text(config.replace("hidden = 16", "hidden = 17"))
    refused = subprocess.run([sys.executable, "-m", "ganzoo", "resume", "run", "--steps", "4"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "arch.hidden differs" in refused.stderr


def test_json_of_doctor_sample_and_generate(tmp_path: Path) -> None:
    from ganzoo.engine.api import start_run
    from ganzoo.export import export_run
    from tests.engine.conftest import ring8_user

    runner = CliRunner()
    doctor = runner.invoke(cli, ["doctor", "--json"])
    assert doctor.exit_code == 0
    checks = json.loads(doctor.stdout)["checks"]
    assert {"torch", "onnxruntime", "plugins"} <= {c["check"] for c in checks}
    run = tmp_path / "run"
    start_run(ring8_user(2), run)
    sample = runner.invoke(cli, ["sample", str(run), "-n", "8", "-o", str(tmp_path / "s.npy"), "--json"])
    assert sample.exit_code == 0, sample.output
    assert json.loads(sample.stdout) == {"output": str(tmp_path / "s.npy"), "samples": 8, "shape": [2], "step": 2,
                                         "ema": False, "seed": 0, "class": None}
    export_run(run)
    gen = runner.invoke(cli, ["generate", str(run / "generator.onnx"), "-n", "8", "-o", str(tmp_path / "g.npy"), "--json"])
    assert gen.exit_code == 0, gen.output
    data = json.loads(gen.stdout)
    assert data["samples"] == 8 and data["shape"] == [2] and data["provider"] == "CPUExecutionProvider"
