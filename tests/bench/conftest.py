"""Helpers for the bench tests: tiny suite files and a ``ganzoo bench`` subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

TINY = """
name = "tiny"
description = "two tiny variants on ring8"
seeds = 2
steps = {steps}
metrics = ["modes", "high_quality", "reverse_kl"]
dataset = "ring8"
arch = "mlp"
set = {{ "train.log_every" = 10, "train.checkpoint_every" = {ckpt}, "train.sample_every" = 0, "arch.hidden" = 16, "arch.latent_dim" = 4, "run.batch_size" = 32, "dataset.size" = 2000 }}

[[variants]]
name = "gan"
loss = "ns-gan"

[[variants]]
name = "lsgan"
loss = "lsgan"
{extra}
[[published]]
model = "GAN"
dataset = "ring8"
source = "VEEGAN Table 1"
variant = "gan"
values = {{ modes = 1, high_quality = 0.993 }}
"""

DIVERGING = """
[[variants]]
name = "diverges"
loss = "ns-gan"
set = { "train.lr_d" = 1e30, "train.lr_g" = 1e30 }

[[variants]]
name = "badpack"
loss = "ns-gan"
mitigations = ["pacgan"]
set = { "mitigation.pacgan.pack" = 3 }
"""


def write_suite(tmp: Path, *, steps: int = 30, ckpt: int = 0, extra: str = "", name: str = "tiny.toml") -> Path:
    path = tmp / name
    path.write_text(TINY.format(steps=steps, ckpt=ckpt, extra=extra), encoding="utf-8")
    return path


def bench_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganzoo", "bench", *args]


def run_bench_cli(*args: str, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(bench_cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **ENV})


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    return write_suite(tmp_path)
