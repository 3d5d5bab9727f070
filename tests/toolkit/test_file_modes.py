"""Files ganzoo writes get the permissions an ordinary ``open()`` gives: 0644 under umask 022 (issue 17)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def _ganzoo(*args: str, cwd: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "ganzoo", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300, preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, (args, result.stderr[-2000:])


def test_every_file_written_is_0644_under_umask_022(tmp_path: Path) -> None:
    _ganzoo("train", "--dataset", "ring8", "--arch", "mlp", "--loss", "ns-gan", "--steps", "2",
            "--set", "arch.hidden=16", "--set", "train.log_every=1", "--set", "train.sample_every=1",
            "--set", "train.checkpoint_every=1", "--out", "run", "--quiet", cwd=tmp_path)
    _ganzoo("export", "run", cwd=tmp_path)
    _ganzoo("sample", "run", "-n", "16", "-o", "out/sample.png", cwd=tmp_path)
    _ganzoo("sample", "run", "-n", "16", "-o", "out/sample.npy", cwd=tmp_path)
    _ganzoo("generate", "run/generator.onnx", "-n", "16", "-o", "out/generate.npy", cwd=tmp_path)
    _ganzoo("generate", "run/generator.onnx", "-n", "16", "-o", "out/generate.png", cwd=tmp_path)
    _ganzoo("eval", "run", "--metrics", "modes", "--num-samples", "200", "--quiet", cwd=tmp_path)
    written = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    for name in ("run/config.toml", "run/checkpoints/step-00000002.pt", "run/samples/step-00000002.png",
                 "run/eval.json", "run/generator.onnx", "out/sample.png", "out/generate.npy", "out/generate.png"):
        assert name in written
    wrong = {name: oct(mode) for name, mode in written.items()
             if mode != (0o755 if (tmp_path / name).is_dir() else 0o644)}
    assert not wrong, wrong
